// args: proxy wrong-proxy socks http-base https-base unresolvable-url body-file tls-proxy proxy-root-ca
package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"time"
)

func client(proxy string) *http.Client {
	u, err := url.Parse(proxy)
	if err != nil {
		panic(err)
	}
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		Proxy:           http.ProxyURL(u),
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true},
	}}
}

func do(c *http.Client, method, target string, body []byte) *http.Response {
	req, err := http.NewRequest(method, target, bytes.NewReader(body))
	if err != nil {
		panic(err)
	}
	if body == nil {
		req.Body = nil
	}
	r, err := c.Do(req)
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	io.Copy(io.Discard, r.Body)
	r.Body.Close()
	return r
}

func main() {
	a := os.Args[1:]
	proxy, wrong, socks, plain, secure, bad := a[0], a[1], a[2], a[3], a[4], a[5]
	data, err := os.ReadFile(a[6])
	if err != nil {
		panic(err)
	}
	c := client(proxy)
	fmt.Println("http", do(c, "GET", plain+"/small", nil).StatusCode)
	fmt.Println("https", do(c, "GET", secure+"/small", nil).StatusCode)
	r := do(c, "POST", plain+"/echo", data)
	fmt.Println("post", r.StatusCode, r.Header.Get("X-Body-Length"))
	fmt.Println("wrongkey", do(client(wrong), "GET", plain+"/small", nil).StatusCode)
	r = do(c, "GET", bad, nil)
	fmt.Println("unresolvable", r.StatusCode, r.Header.Get("X-Proxy-Error"))
	fmt.Println("socks", do(client(socks), "GET", plain+"/small", nil).StatusCode)

	// TLS to the proxy, its chain verified against the root only. Go verifies the proxy with the same
	// TLS settings as the target, so only a plain target goes through it.
	pem, err := os.ReadFile(a[8])
	if err != nil {
		panic(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	u, err := url.Parse(a[7])
	if err != nil {
		panic(err)
	}
	t := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{Proxy: http.ProxyURL(u), TLSClientConfig: &tls.Config{RootCAs: roots}}}
	fmt.Println("tlsproxy", do(t, "GET", plain+"/small", nil).StatusCode)
}
