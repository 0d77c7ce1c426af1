#!/bin/bash
# The quick start: install what berth needs, build it, start berthd on
# /run/berth/berth.sock (unless one already answers there), make the
# busybox:latest image from Debian's busybox-static, and run a container.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"

./scripts/install-deps.sh
make build

sock=/run/berth/berth.sock
export BERTH_HOST="unix://$sock"
if ! ./bin/berth version >/dev/null 2>&1; then
	mkdir -p /run/berth /var/log
	echo "starting berthd (log: /var/log/berthd.log)"
	nohup ./bin/berthd -H "$BERTH_HOST" >>/var/log/berthd.log 2>&1 &
	for _ in $(seq 100); do
		./bin/berth version >/dev/null 2>&1 && break
		sleep 0.1
	done
fi
./bin/berth version

echo "== image: busybox:latest from busybox-static"
./scripts/busybox-rootfs.sh | ./bin/berth import -c 'CMD ["sh"]' - busybox:latest
./bin/berth images busybox

echo "== run"
./bin/berth run --rm busybox sh -c 'echo "hello from a berth container: $(hostname), pid $$, $(id)"'
id=$(./bin/berth run -d --name quickstart-web busybox httpd -f -p 8080 -h /etc)
./bin/berth ps --filter name=quickstart-web
echo "== exec: ask the container's own web server for its /etc/hostname"
./bin/berth exec quickstart-web wget -qO- http://127.0.0.1:8080/hostname
./bin/berth rm -f "$id" >/dev/null

echo "== ship: save the image as a docker archive (registries come with the Ship issue)"
./bin/berth save -o /tmp/busybox-berth.tar busybox:latest
ls -l /tmp/busybox-berth.tar

echo
echo "berthd keeps running. Try the real docker CLI against it:"
echo "  docker -H $BERTH_HOST run --rm -it busybox sh"
