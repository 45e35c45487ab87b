package secrets

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestSealOpen(t *testing.T) {
	k, err := ParseMasterKey(GenerateMasterKey())
	if err != nil {
		t.Fatal(err)
	}
	secret := []byte("a-livekit-secret-of-at-least-32-characters")
	sealed, err := k.Seal(secret, []byte("cluster:1"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, secret) {
		t.Fatal("sealed value contains the plaintext")
	}
	got, err := k.Open(sealed, []byte("cluster:1"))
	if err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("Open = %q, %v", got, err)
	}
	if _, err := k.Open(sealed, []byte("cluster:2")); err == nil {
		t.Fatal("a value sealed for one row opened for another")
	}
	other, _ := ParseMasterKey(GenerateMasterKey())
	if _, err := other.Open(sealed, []byte("cluster:1")); !errors.Is(err, ErrWrongMasterKey) {
		t.Fatalf("open with another master key: %v, want ErrWrongMasterKey", err)
	}
	tampered := bytes.Clone(sealed)
	tampered[len(tampered)-1] ^= 1
	if _, err := k.Open(tampered, []byte("cluster:1")); err == nil {
		t.Fatal("a tampered value opened")
	}
	again, _ := k.Seal(secret, []byte("cluster:1"))
	if bytes.Equal(again, sealed) {
		t.Fatal("two seals of one value are equal: data keys or nonces are reused")
	}
}

func TestParseMasterKey(t *testing.T) {
	for _, bad := range []string{"", "not base64!!", "c2hvcnQ="} {
		_, err := ParseMasterKey(bad)
		if err == nil {
			t.Errorf("ParseMasterKey(%q) accepted", bad)
		} else if bad != "" && strings.Contains(err.Error(), bad) {
			t.Errorf("error repeats the key: %v", err)
		}
	}
}

func TestAPIKey(t *testing.T) {
	id, token := NewAPIKey()
	if !strings.HasPrefix(token, "cpk_"+id+"_") {
		t.Fatalf("token %q does not carry its id %q", token, id)
	}
	got, ok := ParseAPIKey(token)
	if !ok || got != id {
		t.Fatalf("ParseAPIKey = %q, %v", got, ok)
	}
	for _, bad := range []string{"", "cpk_", "cpk_abc_def", "Bearer " + token, token + "x", strings.TrimPrefix(token, "cpk_")} {
		if _, ok := ParseAPIKey(bad); ok {
			t.Errorf("ParseAPIKey(%q) accepted", bad)
		}
	}
	id2, token2 := NewAPIKey()
	if id == id2 || token == token2 {
		t.Fatal("two keys are equal")
	}
	if !EqualHashes(HashAPIKey(token), HashAPIKey(token)) || EqualHashes(HashAPIKey(token), HashAPIKey(token2)) {
		t.Fatal("hash comparison is wrong")
	}
	if !EqualTokens("a", "a") || EqualTokens("a", "ab") {
		t.Fatal("token comparison is wrong")
	}
}
