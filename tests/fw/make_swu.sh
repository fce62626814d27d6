#!/bin/sh
# Usage: make_swu.sh OUT.swu DEST PAYLOAD VERSION SIGNER_KEY SIGNER_CERT
# A CMS-signed swupdate image (cpio -H crc, sw-description first) whose
# rawfile handler writes PAYLOAD to DEST/payload.bin and VERSION to
# DEST/version, and whose shell script logs to DEST/post.log.  swupdate must
# run with -H <board>:1.0 (Debian's build checks hardware compatibility) and
# -k SIGNER_CERT.  POSTINST_EXIT (default 0) is the script's exit status.
set -e
OUT=$(realpath -m "$1"); DEST=$2; PAYLOAD=$3; VER=$4; KEY=$5; CERT=$6
W=$(mktemp -d); trap 'rm -rf "$W"' EXIT
cp "$PAYLOAD" "$W/payload.bin"
printf '%s\n' "$VER" > "$W/version"
cat > "$W/post.sh" <<SH
#!/bin/sh
echo "script \$1" >> "$DEST/post.log"
[ "\$1" = postinst ] && exit ${POSTINST_EXIT:-0}
exit 0
SH
sha() { sha256sum "$1" | cut -d' ' -f1; }
cat > "$W/sw-description" <<D
software =
{
	version = "$VER";
	name = "lwm2md-test";
	description = "lwm2md test image";
	hardware-compatibility: [ "1.0" ];
	files: (
		{
			filename = "payload.bin";
			path = "$DEST/payload.bin";
			sha256 = "$(sha "$W/payload.bin")";
			properties = { create-destination = "true"; };
		},
		{
			filename = "version";
			path = "$DEST/version";
			sha256 = "$(sha "$W/version")";
			properties = { create-destination = "true"; };
		}
	);
	scripts: (
		{
			filename = "post.sh";
			type = "shellscript";
			sha256 = "$(sha "$W/post.sh")";
		}
	);
}
D
openssl cms -sign -in "$W/sw-description" -out "$W/sw-description.sig" -signer "$CERT" \
	-inkey "$KEY" -outform DER -nosmimecap -binary
(cd "$W" && printf '%s\n' sw-description sw-description.sig payload.bin version post.sh |
	cpio -o -H crc > "$OUT" 2>/dev/null)
