import sys, requests, urllib3
urllib3.disable_warnings()
proxy, wrong, socks, http, https, bad, body, tlsproxy, ca = sys.argv[1:10]
data = open(body, "rb").read()
p = {"http": proxy, "https": proxy}
print("http", requests.get(http + "/small", proxies=p, timeout=30).status_code)
print("https", requests.get(https + "/small", proxies=p, verify=False, timeout=30).status_code)
r = requests.post(http + "/echo", data=data, proxies=p, timeout=30)
print("post", r.status_code, r.headers.get("X-Body-Length"))
print("wrongkey", requests.get(http + "/small", proxies={"http": wrong}, timeout=30).status_code)
r = requests.get(bad, proxies=p, timeout=30)
print("unresolvable", r.status_code, r.headers.get("X-Proxy-Error"))
print("socks", requests.get(http + "/small", proxies={"http": socks, "https": socks}, timeout=30).status_code)
# TLS to the proxy, verified against the root only (requests has one trust setting for the proxy and
# the target, so only a plain target goes through it).
print("tlsproxy", requests.get(http + "/small", proxies={"http": tlsproxy}, verify=ca, timeout=30).status_code)
