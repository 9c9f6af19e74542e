package main

// JSON Web Tokens as the fakes check them: RS256 service-account assertions (FCM's token endpoint)
// and ES256 provider tokens (APNs), whose signature is the raw 64-byte R‖S, not DER.

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"strings"
)

type jwtHeader struct {
	Alg string `json:"alg"`
	Kid string `json:"kid"`
	Typ string `json:"typ"`
}

// jwtClaims holds the registered claims the fakes look at; scope is Google's.
type jwtClaims struct {
	Iss   string          `json:"iss"`
	Sub   string          `json:"sub"`
	Aud   json.RawMessage `json:"aud"`
	Scope string          `json:"scope"`
	Iat   *float64        `json:"iat"`
	Exp   *float64        `json:"exp"`
}

// audiences returns aud, which RFC 7519 allows as one string or an array of them.
func (c *jwtClaims) audiences() []string {
	var one string
	if json.Unmarshal(c.Aud, &one) == nil {
		return []string{one}
	}
	var many []string
	if json.Unmarshal(c.Aud, &many) == nil {
		return many
	}
	return nil
}

// numericDate converts a NumericDate claim to whole seconds; ok is false when it is absent or not a
// finite number.
func numericDate(v *float64) (int64, bool) {
	if v == nil || math.IsNaN(*v) || math.IsInf(*v, 0) || math.Abs(*v) > 1e15 {
		return 0, false
	}
	return int64(math.Floor(*v)), true
}

// parsedJWT is a token split and decoded, its signature not yet checked.
type parsedJWT struct {
	header       jwtHeader
	claims       jwtClaims
	signingInput string
	signature    []byte
}

var b64url = base64.RawURLEncoding

// parseJWT splits a compact JWS and decodes its parts. It does not check the signature.
func parseJWT(token string) (*parsedJWT, error) {
	h, rest, ok1 := strings.Cut(token, ".")
	c, s, ok2 := strings.Cut(rest, ".")
	if !ok1 || !ok2 || strings.Contains(s, ".") {
		return nil, errors.New("not a JWT: want three dot-separated parts")
	}
	var j parsedJWT
	hb, err := b64url.DecodeString(h)
	if err != nil {
		return nil, fmt.Errorf("header is not base64url: %v", err)
	}
	if err := strictJSON(hb, &j.header); err != nil {
		return nil, fmt.Errorf("header is not a JSON object: %v", err)
	}
	cb, err := b64url.DecodeString(c)
	if err != nil {
		return nil, fmt.Errorf("claims are not base64url: %v", err)
	}
	if err := strictJSON(cb, &j.claims); err != nil {
		return nil, fmt.Errorf("claims are not a JSON object: %v", err)
	}
	if j.signature, err = b64url.DecodeString(s); err != nil {
		return nil, fmt.Errorf("signature is not base64url: %v", err)
	}
	j.signingInput = token[:len(h)+1+len(c)]
	return &j, nil
}

// strictJSON decodes one JSON object into v, allowing unknown fields but nothing after it.
func strictJSON(data []byte, v any) error {
	if !bytes.HasPrefix(bytes.TrimSpace(data), []byte("{")) {
		return errors.New("not an object")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("data after the object")
	}
	return nil
}

// verifyRS256 checks an RSASSA-PKCS1-v1_5 SHA-256 signature.
func (j *parsedJWT) verifyRS256(pub *rsa.PublicKey) error {
	if j.header.Alg != "RS256" {
		return fmt.Errorf("alg is %q, not RS256", j.header.Alg)
	}
	digest := sha256.Sum256([]byte(j.signingInput))
	if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], j.signature); err != nil {
		return errors.New("signature does not verify")
	}
	return nil
}

// verifyES256 checks an ECDSA P-256 SHA-256 signature given as raw R‖S (JWS, RFC 7518 §3.4).
func (j *parsedJWT) verifyES256(pub *ecdsa.PublicKey) error {
	if j.header.Alg != "ES256" {
		return fmt.Errorf("alg is %q, not ES256", j.header.Alg)
	}
	if len(j.signature) != 64 {
		return fmt.Errorf("signature is %d bytes, not the 64 of raw R||S (a DER signature?)", len(j.signature))
	}
	r := new(big.Int).SetBytes(j.signature[:32])
	s := new(big.Int).SetBytes(j.signature[32:])
	digest := sha256.Sum256([]byte(j.signingInput))
	if !ecdsa.Verify(pub, digest[:], r, s) {
		return errors.New("signature does not verify")
	}
	return nil
}
