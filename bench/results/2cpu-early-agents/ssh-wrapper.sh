#!/bin/sh
echo "$(date +%s.%N) start" >> /tmp/sshwrap/log
exec /usr/bin/ssh "$@"
