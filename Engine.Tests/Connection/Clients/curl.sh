#!/usr/bin/env bash
# args: proxy wrong-proxy socks http-base https-base unresolvable-url body-file tls-proxy proxy-root-ca
set -u
proxy=$1 wrong=$2 socks=$3 http=$4 https=$5 bad=$6 body=$7 tlsproxy=$8 ca=$9
echo "http $(curl -s -o /dev/null -w '%{http_code}' -x "$proxy" "$http/small")"
echo "https $(curl -s -k -o /dev/null -w '%{http_code}' -x "$proxy" "$https/small")"
len=$(curl -s -D - -o /dev/null -x "$proxy" --data-binary "@$body" -H 'Content-Type: application/octet-stream' "$http/echo" | tr -d '\r' | awk -F': ' 'tolower($1)=="x-body-length" {print $2}')
code=$(curl -s -o /dev/null -w '%{http_code}' -x "$proxy" --data-binary "@$body" -H 'Content-Type: application/octet-stream' "$http/echo")
echo "post $code $len"
echo "wrongkey $(curl -s -o /dev/null -w '%{http_code}' -x "$wrong" "$http/small")"
err=$(curl -s -D - -o /dev/null -x "$proxy" "$bad" | tr -d '\r' | awk -F': ' 'tolower($1)=="x-proxy-error" {print $2}')
echo "unresolvable $(curl -s -o /dev/null -w '%{http_code}' -x "$proxy" "$bad") $err"
echo "socks $(curl -s -o /dev/null -w '%{http_code}' -x "$socks" "$http/small")"
# TLS to the proxy, its chain verified against the root only; -k is for the test origin, not the proxy.
echo "tlsproxy $(curl -s -o /dev/null -w '%{http_code}' -x "$tlsproxy" --proxy-cacert "$ca" "$http/small")"
echo "tlsproxy-https $(curl -s -k -o /dev/null -w '%{http_code}' -x "$tlsproxy" --proxy-cacert "$ca" "$https/small")"
