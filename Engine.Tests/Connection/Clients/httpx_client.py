import sys, httpx
proxy, wrong, socks, http, https, bad, body = sys.argv[1:8]
data = open(body, "rb").read()
with httpx.Client(proxies=proxy, verify=False, timeout=30) as c:
    print("http", c.get(http + "/small").status_code)
    print("https", c.get(https + "/small").status_code)
    r = c.post(http + "/echo", content=data)
    print("post", r.status_code, r.headers.get("x-body-length"))
    r = c.get(bad)
    print("unresolvable", r.status_code, r.headers.get("x-proxy-error"))
with httpx.Client(proxies=wrong, timeout=30) as c:
    print("wrongkey", c.get(http + "/small").status_code)
