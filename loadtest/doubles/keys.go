package main

// The credentials the fakes hand to the worker: a Google service account (RSA-2048) for FCM, an
// APNs signing key (.p8, EC P-256), and the TLS certificate APNs is served with. Each is loaded
// from its file when the file exists, so a restarted double keeps accepting what the worker holds,
// and generated (and written, mode 0600) otherwise.

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	mathrand "math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"time"
)

// serviceAccount is a Google service-account key file, field for field.
type serviceAccount struct {
	Type                    string `json:"type"`
	ProjectID               string `json:"project_id"`
	PrivateKeyID            string `json:"private_key_id"`
	PrivateKey              string `json:"private_key"`
	ClientEmail             string `json:"client_email"`
	ClientID                string `json:"client_id"`
	AuthURI                 string `json:"auth_uri"`
	TokenURI                string `json:"token_uri"`
	AuthProviderX509CertURL string `json:"auth_provider_x509_cert_url"`
	ClientX509CertURL       string `json:"client_x509_cert_url"`
	UniverseDomain          string `json:"universe_domain"`
}

// writeFileAtomic writes data to path with mode 0600 through a temporary file and a rename, so a
// reader never sees half a key. The directory is created (0700) if needed.
func writeFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	err = f.Chmod(0o600)
	if err == nil {
		_, err = f.Write(data)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp)
	}
	return err
}

// readIfExists returns the file's contents, or nil and no error when it does not exist.
func readIfExists(path string) ([]byte, error) {
	if path == "" {
		return nil, nil
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return data, err
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return hex.EncodeToString(b)
}

func randomDigits(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = '0' + byte(mathrand.IntN(10))
	}
	if b[0] == '0' {
		b[0] = '1'
	}
	return string(b)
}

func pkcs8PEM(key crypto.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// parsePrivateKeyPEM reads the first private key in PEM text: PKCS#8, or the traditional RSA and
// EC forms.
func parsePrivateKeyPEM(data []byte) (crypto.PrivateKey, error) {
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			return nil, errors.New("no PEM private key found")
		}
		switch block.Type {
		case "PRIVATE KEY":
			return x509.ParsePKCS8PrivateKey(block.Bytes)
		case "RSA PRIVATE KEY":
			return x509.ParsePKCS1PrivateKey(block.Bytes)
		case "EC PRIVATE KEY":
			return x509.ParseECPrivateKey(block.Bytes)
		}
	}
}

// loadOrCreateServiceAccount returns the service account in path (path may be empty: nothing is
// written) or a new one for project. token_uri is set to tokenURI; a loaded file whose token_uri
// differs is rewritten with the new one, keeping its key. rewritten reports that the file changed.
func loadOrCreateServiceAccount(path, project, tokenURI string) (sa *serviceAccount, key *rsa.PrivateKey, rewritten bool, err error) {
	data, err := readIfExists(path)
	if err != nil {
		return nil, nil, false, err
	}
	if data != nil {
		sa = new(serviceAccount)
		if err := json.Unmarshal(data, sa); err != nil {
			return nil, nil, false, fmt.Errorf("%s: not a service-account JSON file: %v", path, err)
		}
		if sa.Type != "service_account" || sa.ClientEmail == "" || sa.ProjectID == "" {
			return nil, nil, false, fmt.Errorf("%s: want type service_account with client_email and project_id", path)
		}
		k, err := parsePrivateKeyPEM([]byte(sa.PrivateKey))
		if err != nil {
			return nil, nil, false, fmt.Errorf("%s: private_key: %v", path, err)
		}
		rk, ok := k.(*rsa.PrivateKey)
		if !ok {
			return nil, nil, false, fmt.Errorf("%s: private_key is not an RSA key", path)
		}
		if sa.TokenURI == tokenURI {
			return sa, rk, false, nil
		}
		sa.TokenURI = tokenURI
		return sa, rk, true, writeServiceAccount(path, sa)
	}
	key, err = rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, nil, false, err
	}
	keyPEM, err := pkcs8PEM(key)
	if err != nil {
		return nil, nil, false, err
	}
	email := "wavecom-worker@" + project + ".iam.gserviceaccount.com"
	sa = &serviceAccount{
		Type:                    "service_account",
		ProjectID:               project,
		PrivateKeyID:            randomHex(20),
		PrivateKey:              string(keyPEM),
		ClientEmail:             email,
		ClientID:                randomDigits(21),
		AuthURI:                 "https://accounts.google.com/o/oauth2/auth",
		TokenURI:                tokenURI,
		AuthProviderX509CertURL: "https://www.googleapis.com/oauth2/v1/certs",
		ClientX509CertURL:       "https://www.googleapis.com/robot/v1/metadata/x509/" + email,
		UniverseDomain:          "googleapis.com",
	}
	if path == "" {
		return sa, key, false, nil
	}
	return sa, key, true, writeServiceAccount(path, sa)
}

func writeServiceAccount(path string, sa *serviceAccount) error {
	data, err := json.MarshalIndent(sa, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(path, append(data, '\n'))
}

// loadOrCreateAPNsKey returns the EC P-256 key in path (a .p8, PKCS#8 PEM), or a new one, written
// there unless path is empty.
func loadOrCreateAPNsKey(path string) (key *ecdsa.PrivateKey, created bool, err error) {
	data, err := readIfExists(path)
	if err != nil {
		return nil, false, err
	}
	if data != nil {
		k, err := parsePrivateKeyPEM(data)
		if err != nil {
			return nil, false, fmt.Errorf("%s: %v", path, err)
		}
		ek, ok := k.(*ecdsa.PrivateKey)
		if !ok || ek.Curve != elliptic.P256() {
			return nil, false, fmt.Errorf("%s: not an EC P-256 private key", path)
		}
		return ek, false, nil
	}
	key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, false, err
	}
	if path == "" {
		return key, true, nil
	}
	keyPEM, err := pkcs8PEM(key)
	if err != nil {
		return nil, false, err
	}
	return key, true, writeFileAtomic(path, keyPEM)
}

// tlsHosts are the names the APNs certificate is always valid for; -public-host adds one.
var tlsHosts = []string{"127.0.0.1", "::1", "localhost"}

// loadOrCreateTLS returns the APNs server certificate and its PEM (what clients trust). The pair
// in certPath and keyPath is reused while it covers tlsHosts and publicHost (when not empty) and
// stays valid for another 30 days; otherwise a new self-signed certificate is made and written (to
// neither file when certPath is empty).
func loadOrCreateTLS(certPath, keyPath, publicHost string) (cert tls.Certificate, certPEM []byte, created bool, err error) {
	certPEM, err = readIfExists(certPath)
	if err != nil {
		return cert, nil, false, err
	}
	keyPEM, err := readIfExists(keyPath)
	if err != nil {
		return cert, nil, false, err
	}
	if certPEM != nil && keyPEM != nil {
		if c, err := tls.X509KeyPair(certPEM, keyPEM); err == nil && usableCert(c.Leaf, publicHost) {
			return c, certPEM, false, nil
		}
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return cert, nil, false, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return cert, nil, false, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "WaveCom provider test doubles", Organization: []string{"WaveCom"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(1, 0, 0),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		// Self-signed and marked as a CA, so that the file is both the server's certificate and
		// the trust anchor a client loads (libcurl's CAINFO, Go's RootCAs).
		IsCA:        true,
		DNSNames:    []string{"localhost"},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("::1")},
	}
	if ip := net.ParseIP(publicHost); ip != nil {
		tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
	} else if publicHost != "" {
		tmpl.DNSNames = append(tmpl.DNSNames, publicHost)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return cert, nil, false, err
	}
	certPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	if keyPEM, err = pkcs8PEM(key); err != nil {
		return cert, nil, false, err
	}
	if cert, err = tls.X509KeyPair(certPEM, keyPEM); err != nil {
		return cert, nil, false, err
	}
	if certPath != "" {
		// The key first: a certificate on disk without its key would be replaced at next start.
		if err := writeFileAtomic(keyPath, keyPEM); err != nil {
			return cert, nil, false, err
		}
		if err := writeFileAtomic(certPath, certPEM); err != nil {
			return cert, nil, false, err
		}
	}
	return cert, certPEM, true, nil
}

func usableCert(c *x509.Certificate, publicHost string) bool {
	if c == nil || time.Until(c.NotAfter) < 30*24*time.Hour {
		return false
	}
	hosts := tlsHosts
	if publicHost != "" {
		hosts = append(append([]string{}, tlsHosts...), publicHost)
	}
	for _, h := range hosts {
		if c.VerifyHostname(h) != nil {
			return false
		}
	}
	return true
}
