/*
 * tests/hwsim/guest/thermal.asl - an ACPI thermal zone for the VM (qemu -acpitable), so that
 * Linux's own ACPI thermal driver presents /sys/class/thermal/thermal_zoneN (type "acpitz")
 * with a temperature the tests set.
 *
 * _TMP reads two bytes of I/O port storage that qemu emulates and nothing in the guest uses:
 * the ISA DMA page registers of channels 2 and 3 (ports 0x81, 0x82; no floppy, no ISA DMA).
 * Temperature = port 0x81 whole degrees Celsius + port 0x82 tenths; the guest sets them through
 * /dev/port (guest/hw.sh thermal C). The kernel evaluates _TMP on every read of temp.
 * A zone needs a valid trip point to be registered: _CRT is 120 °C (above it the kernel would
 * shut the VM down, so the tests stay well below).
 * Built with iasl (acpica-tools) by vm.py.
 */
DefinitionBlock ("", "SSDT", 2, "LWM2MD", "HWSIMTZ", 1)
{
    Scope (\_TZ)
    {
        OperationRegion (HWTP, SystemIO, 0x81, 0x02)
        Field (HWTP, ByteAcc, NoLock, Preserve)
        {
            TDEG, 8,
            TDEC, 8
        }

        ThermalZone (HWTZ)
        {
            /* tenths of a kelvin */
            Method (_TMP, 0, Serialized)
            {
                Return (Add (Add (2732, Multiply (TDEG, 10)), TDEC))
            }

            Method (_CRT, 0, Serialized)
            {
                Return (3932)
            }
        }
    }
}
