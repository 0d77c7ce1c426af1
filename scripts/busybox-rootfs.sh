#!/bin/sh
# Writes to stdout a rootfs tar holding Debian's static busybox with all its
# applets linked in /bin, plus /etc/passwd and /etc/group: import it with
#   scripts/busybox-rootfs.sh | berth import - busybox:latest
set -eu
bb=/bin/busybox
[ -x "$bb" ] || { echo "busybox-static is not installed (run scripts/install-deps.sh)" >&2; exit 1; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
mkdir -p "$dir/bin" "$dir/etc" "$dir/tmp" "$dir/root" "$dir/home/user" "$dir/proc" "$dir/sys" "$dir/dev" "$dir/var/www" "$dir/usr/bin" "$dir/sbin"
chmod 1777 "$dir/tmp"
chmod 700 "$dir/root"
cp "$bb" "$dir/bin/busybox"
for a in $("$bb" --list); do
	[ "$a" = busybox ] || ln -sf busybox "$dir/bin/$a"
done
cat > "$dir/etc/passwd" <<'P'
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
user:x:1000:1000:user:/home/user:/bin/sh
P
cat > "$dir/etc/group" <<'G'
root:x:0:
nogroup:x:65534:
user:x:1000:
G
chown 1000:1000 "$dir/home/user"
tar --numeric-owner --sort=name --mtime=@1700000000 -C "$dir" -cf - .
