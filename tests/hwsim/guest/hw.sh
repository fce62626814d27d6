# tests/hwsim/guest/hw.sh - runs INSIDE the VM (busybox sh): the simulated hardware every case
# uses, made once per boot. `hw.sh setup` creates it and prints what the tests need to know as
# KEY=VALUE lines; the other subcommands are small helpers the tests call.
#
#   gpio-sim chip (configfs "lwm2md"), one bank, label "hwsim-gpio", 12 lines:
#       0 "button"  input, for lwm2md's 3200 Digital Input
#       1 "door"    input, for lwm2md (active-low)
#       2 "relay"   output, for lwm2md's 3201 Digital Output
#       3 "led"     output, for lwm2md
#       6 "probe-in", 7 "probe-out"   only for the kernel-side checks (lwm2md never opens them)
#       8 "switch"  input, for lwm2md's 3342 On/Off switch
#       9 "push"    input, for lwm2md's 3347 Push button (with a debounce)
#      10 "valve"   output, for lwm2md's 3306 Actuation
#   iio_dummy device "dummy0" (configfs)
#   i2c-stub with 0x40 tmp006 (IIO), 0x48 lm75 (hwmon), 0x49 tmp102 (hwmon), 0x76 bme280 (IIO),
#       and three-axis IIO chips: 0x4c mma7660 (accelerometer), 0x1e hmc5843 (magnetometer),
#       0x68 bmg160 (gyroscope)
#   the ACPI thermal zone of guest/thermal.asl ("acpitz"), set to 30.0 °C
#
# The i2c-stub keeps 16-bit words as the host CPU does (little-endian) while these chips send the
# most significant byte first (SMBus "swapped" words): `w16 ADDR REG 0xMMLL` does the swap.
set -eu

CFG=/sys/kernel/config
# busybox sh runs its own applets before anything on PATH, and busybox has i2cset/i2cget
# applets (which reject some values i2c-tools takes): call i2c-tools by their full path
I2CSET=/usr/sbin/i2cset

stub_bus() {
	for n in /sys/bus/i2c/devices/i2c-*/name; do
		if grep -q 'SMBus stub' "$n"; then basename "$(dirname "$n")"; return; fi
	done
	return 1
}

# w16 ADDR REG VALUE: a big-endian 16-bit register (forced: a driver may be bound)
w16() {
	v=$(($3))
	$I2CSET -f -y "${BUS#i2c-}" "$1" "$2" $(( ((v & 0xff) << 8) | ((v >> 8) & 0xff) )) w
}

# w8 ADDR REG VALUE...: consecutive 8-bit registers
w8() {
	a=$1; r=$(($2)); shift 2
	for v in "$@"; do $I2CSET -f -y "${BUS#i2c-}" "$a" "$r" "$v" b; r=$((r + 1)); done
}

new_device() { # new_device DRIVER ADDR
	echo "$1 $2" > "/sys/bus/i2c/devices/$BUS/new_device"
}

iio_dev_of() { # iio_dev_of I2C_CLIENT  -> iio:deviceN
	basename "$(ls -d /sys/bus/i2c/devices/$1/iio:device* | head -1)"
}

hwmon_of() { # hwmon_of I2C_CLIENT -> hwmonN
	basename "$(ls -d /sys/bus/i2c/devices/$1/hwmon/hwmon* | head -1)"
}

setup_gpio() {
	modprobe gpio-sim
	C=$CFG/gpio-sim/lwm2md
	mkdir "$C" "$C/bank0"
	echo 12 > "$C/bank0/num_lines"
	echo hwsim-gpio > "$C/bank0/label"
	for l in 0:button 1:door 2:relay 3:led 6:probe-in 7:probe-out 8:switch 9:push 10:valve; do
		mkdir "$C/bank0/line${l%%:*}"
		echo "${l#*:}" > "$C/bank0/line${l%%:*}/name"
	done
	echo 1 > "$C/live"
	GPIOCHIP=$(cat "$C/bank0/chip_name")
	echo "GPIOCHIP=$GPIOCHIP"
	echo "GPIOSIM=/sys/devices/platform/$(cat "$C/dev_name")/$GPIOCHIP"
}

setup_iio_dummy() {
	modprobe iio_dummy
	mkdir "$CFG/iio/devices/dummy/dummy0"
	for d in /sys/bus/iio/devices/iio:device*; do
		[ "$(cat "$d/name")" = dummy0 ] && echo "IIO_DUMMY=$(basename "$d")"
	done
}

setup_i2c() {
	modprobe i2c-dev
	modprobe i2c-stub chip_addr=0x1e,0x40,0x48,0x49,0x4c,0x68,0x76
	BUS=$(stub_bus)
	echo "I2C_BUS=$BUS"
	N=${BUS#i2c-}
	# no udev in the guest: nothing loads a driver on new_device, so load them first
	modprobe tmp006; modprobe lm75; modprobe tmp102; modprobe bmp280-i2c

	# TMP006 (IIO): ids checked at probe, config: continuous conversion, data ready
	w16 0x40 0xfe 0x5449   # manufacturer id
	w16 0x40 0xff 0x0067   # device id
	w16 0x40 0x02 0x7480   # config
	w16 0x40 0x01 0x0c80   # die temperature: 0x0c80 >> 2 = 800 * 31.25 m°C = 25.0 °C
	w16 0x40 0x00 0x0064   # sensor voltage
	new_device tmp006 0x40
	echo "TMP006=$N-0040"
	echo "TMP006_IIO=$(iio_dev_of "$N-0040")"

	# LM75 (hwmon): temperature 0x1900 = 25.0 °C (9 bits used, 0.5 °C steps)
	w16 0x48 0x00 0x1900
	new_device lm75 0x48
	echo "LM75=$N-0048"
	echo "LM75_HWMON=$(hwmon_of "$N-0048")"

	# TMP102 (hwmon): its probe checks the config register's power-on value, then switches to
	# 13-bit extended mode, so 0x0cc0 reads as (0x0cc0 >> 3) * 62.5 m°C = 25.5 °C
	w16 0x49 0x01 0x60a0
	w16 0x49 0x00 0x0cc0
	new_device tmp102 0x49
	sleep 0.05
	echo "TMP102=$N-0049"
	echo "TMP102_HWMON=$(hwmon_of "$N-0049")"

	# BME280 (IIO: temperature, pressure, humidity): chip id 0x60 and the datasheet's example
	# calibration (Bosch BMP280 datasheet 3.12: T = 25.08 °C, p = 100653 Pa)
	w8 0x76 0xd0 0x60
	w8 0x76 0x88 0x70 0x6b 0x43 0x67 0x18 0xfc 0x7d 0x8e 0x43 0xd6 0xd0 0x0b 0x27 0x0b \
		0x8c 0x00 0xf9 0xff 0x8c 0x3c 0xf8 0xc6 0x70 0x17
	w8 0x76 0xa1 0x4b                                  # H1 = 75
	w8 0x76 0xe1 0x6a 0x01 0x00 0x13 0x29 0x03 0x1e   # H2 = 362, H3 = 0, H4 = 313, H5 = 50, H6 = 30
	w8 0x76 0xf7 0x65 0x5a 0xc0 0x7e 0xed 0x00 0x6b 0x5a   # adc_P 415148, adc_T 519888, adc_H 0x6b5a
	new_device bme280 0x76
	echo "BME280=$N-0076"
	echo "BME280_IIO=$(iio_dev_of "$N-0076")"

	setup_axes
}

# Three-axis IIO chips whose probes only check an id register (or none) and whose readings are
# plain register reads, so i2c-stub can stand in for them. The axis values the tests start from
# (raw counts; each driver's scale turns them into m/s2, gauss and rad/s):
#   mma7660 x 5, y -3, z 21 (6-bit, bit 6 "alert" clear), hmc5843 x 1000, y -500, z 250
#   (big-endian), bmg160 x 100, y -200, z 3000 (little-endian)
setup_axes() {
	modprobe mma7660; modprobe hmc5843_i2c; modprobe bmg160_i2c

	w8 0x4c 0x00 0x05 0x3d 0x15      # XOUT, YOUT, ZOUT
	w8 0x4c 0x07 0x00                # MODE: standby (the probe makes it active)
	new_device mma7660 0x4c
	echo "MMA7660=$N-004c"

	w8 0x1e 0x03 0x03 0xe8 0xfe 0x0c 0x00 0xfa   # data out X, Y, Z (MSB first)
	w8 0x1e 0x09 0x01                # status: data ready
	w8 0x1e 0x0a 0x48 0x34 0x33      # identification "H43"
	new_device hmc5843 0x1e
	echo "HMC5843=$N-001e"

	w8 0x68 0x00 0x0f                # chip id
	w8 0x68 0x02 0x64 0x00 0x38 0xff 0xb8 0x0b   # rate X, Y, Z (LSB first)
	new_device bmg160 0x68
	echo "BMG160=$N-0068"
}

# thermal C: the ACPI thermal zone's temperature (0.0 .. 99.9 °C, one decimal) through the two
# I/O ports its _TMP reads (guest/thermal.asl)
thermal() {
	d=${1%.*}; t=0
	case $1 in *.*) t=${1#*.}; t=${t%"${t#?}"} ;; esac
	printf "\\$(printf %o "$d")\\$(printf %o "$t")" | dd of=/dev/port bs=1 seek=$((0x81)) count=2 conv=notrunc 2>/dev/null
}

setup_thermal() {
	thermal 30.0
	for z in /sys/class/thermal/thermal_zone*; do
		[ "$(cat "$z/type")" = acpitz ] && echo "THERMAL_ZONE=$(basename "$z")"
	done
}

# a second gpio-sim chip made and removed while lwm2md runs (hot-plug of a GPIO chip)
late_chip() {
	C=$CFG/gpio-sim/late
	case $1 in
	add)
		mkdir "$C" "$C/bank0"
		echo 4 > "$C/bank0/num_lines"
		echo hwsim-late > "$C/bank0/label"
		mkdir "$C/bank0/line0" && echo late-in > "$C/bank0/line0/name"
		echo 1 > "$C/live"
		echo "LATE_GPIOCHIP=$(cat "$C/bank0/chip_name")"
		echo "LATE_GPIOSIM=/sys/devices/platform/$(cat "$C/dev_name")/$(cat "$C/bank0/chip_name")"
		;;
	remove)
		echo 0 > "$C/live"
		rmdir "$C/bank0/line0" "$C/bank0" "$C"
		;;
	esac
}

case "${1:-}" in
thermal) thermal "$2" ;;
late-chip) late_chip "$2" ;;
setup)
	setup_gpio
	setup_iio_dummy
	setup_i2c
	setup_thermal
	;;
w16) BUS=$(stub_bus); shift; w16 "$@" ;;
w8) BUS=$(stub_bus); shift; w8 "$@" ;;
*) echo "usage: hw.sh setup | thermal C | late-chip add|remove | w16 ADDR REG VALUE | w8 ADDR REG VALUE..." >&2; exit 2 ;;
esac
