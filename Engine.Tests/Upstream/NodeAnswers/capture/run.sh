#!/bin/bash
# Runs inside: unshare --net --mount. Loopback only; /etc/resolv.conf -> 127.0.0.1 (fake NXDOMAIN server).
set -x
ip link set lo up
echo "nameserver 127.0.0.1" > $DIR/resolv.conf
mount --bind $DIR/resolv.conf /etc/resolv.conf
mkdir -p $DIR/out
python3 $DIR/fakedns.py & DNS=$!
python3 $DIR/origins.py & ORIG=$!
squid -f $DIR/squid.conf -N & SQ=$!
tinyproxy -d -c $DIR/tinyproxy.conf & TP=$!
sleep 3
cd $DIR
python3 capture.py squid 3128
python3 capture.py tinyproxy 8888
kill $SQ $TP $DNS $ORIG
wait
