package main

import "testing"

func TestPublicAddrNamesThePublicHost(t *testing.T) {
	cases := []struct{ addr, host, want string }{
		{"0.0.0.0:4020", "doubles", "doubles:4020"},
		{"127.0.0.1:4020", "", "127.0.0.1:4020"},
		{"0.0.0.0:4020", "::1", "[::1]:4020"},
	}
	for _, c := range cases {
		if got := publicAddr(c.addr, c.host); got != c.want {
			t.Errorf("publicAddr(%q, %q) = %q, want %q", c.addr, c.host, got, c.want)
		}
	}
}

func TestCertificateCoversThePublicHost(t *testing.T) {
	dir := t.TempDir()
	cert, _, created, err := loadOrCreateTLS(dir+"/cert.pem", dir+"/key.pem", "")
	if err != nil || !created {
		t.Fatalf("first certificate: created=%v err=%v", created, err)
	}
	if cert.Leaf.VerifyHostname("doubles") == nil {
		t.Fatal("a certificate made without -public-host covers 'doubles'")
	}
	// The saved pair lacks the public host, so it is replaced rather than reused.
	cert, _, created, err = loadOrCreateTLS(dir+"/cert.pem", dir+"/key.pem", "doubles")
	if err != nil || !created {
		t.Fatalf("certificate for the public host: created=%v err=%v", created, err)
	}
	for _, h := range []string{"doubles", "localhost", "127.0.0.1"} {
		if err := cert.Leaf.VerifyHostname(h); err != nil {
			t.Errorf("certificate does not cover %s: %v", h, err)
		}
	}
	if _, _, created, err = loadOrCreateTLS(dir+"/cert.pem", dir+"/key.pem", "doubles"); err != nil || created {
		t.Fatalf("a valid pair for the same host is not reused: created=%v err=%v", created, err)
	}
}
