// Package secrets seals values at rest and makes API keys. Sealing is envelope encryption:
// each value gets its own random AES-256-GCM data key, and the data key is stored wrapped
// by the master key from configuration, so rotating the master key means re-wrapping data
// keys, not re-encrypting data. Nothing here logs or returns what it protects.
package secrets

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// MasterKeySize is the size of the master key in bytes (AES-256).
const MasterKeySize = 32

// Keyring seals and opens values with one master key.
type Keyring struct {
	master cipher.AEAD
	id     [8]byte // identifies the master key inside sealed values
}

// ParseMasterKey decodes a base64 master key (standard or URL encoding, padded or not)
// that must hold exactly 32 bytes. The error never repeats the key.
func ParseMasterKey(b64 string) (*Keyring, error) {
	b64 = strings.TrimSpace(b64)
	if b64 == "" {
		return nil, errors.New("the master key is empty: set 32 random bytes, base64-encoded (e.g. `head -c32 /dev/urandom | base64`)")
	}
	var key []byte
	var err error
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if key, err = enc.DecodeString(b64); err == nil {
			break
		}
	}
	if err != nil {
		return nil, errors.New("the master key is not valid base64: set 32 random bytes, base64-encoded (e.g. `head -c32 /dev/urandom | base64`)")
	}
	return NewKeyring(key)
}

// NewKeyring returns a keyring for a 32-byte master key.
func NewKeyring(master []byte) (*Keyring, error) {
	if len(master) != MasterKeySize {
		return nil, fmt.Errorf("the master key must be %d bytes, got %d", MasterKeySize, len(master))
	}
	aead, err := newGCM(master)
	if err != nil {
		return nil, err
	}
	k := &Keyring{master: aead}
	sum := sha256.Sum256(append([]byte("cellplane master key id\x00"), master...))
	copy(k.id[:], sum[:8])
	return k, nil
}

// GenerateMasterKey returns a new random master key, base64-encoded.
func GenerateMasterKey() string {
	return base64.StdEncoding.EncodeToString(randomBytes(MasterKeySize))
}

func newGCM(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// sealedVersion is the first byte of every sealed value; the layout is
//
//	version(1) | master key id(8) | wrapped data key (nonce 12 + 32 + tag 16) | nonce(12) | ciphertext+tag
const sealedVersion = 1

const wrappedKeyLen = 12 + 32 + 16

// Seal encrypts plaintext. aad binds the value to where it is stored (e.g. the row id and
// column), so a sealed value copied to another row does not open.
func (k *Keyring) Seal(plaintext, aad []byte) ([]byte, error) {
	dataKey := randomBytes(32)
	defer clear(dataKey)
	data, err := newGCM(dataKey)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, 1+8+wrappedKeyLen+12+len(plaintext)+16)
	out = append(out, sealedVersion)
	out = append(out, k.id[:]...)
	wrapNonce := randomBytes(12)
	out = append(out, wrapNonce...)
	out = k.master.Seal(out, wrapNonce, dataKey, k.id[:])
	nonce := randomBytes(12)
	out = append(out, nonce...)
	out = data.Seal(out, nonce, plaintext, aad)
	return out, nil
}

// ErrWrongMasterKey is returned when a value was sealed under another master key.
var ErrWrongMasterKey = errors.New("sealed with a different master key")

// Open decrypts a value made by Seal with the same aad.
func (k *Keyring) Open(sealed, aad []byte) ([]byte, error) {
	if len(sealed) < 1+8+wrappedKeyLen+12+16 || sealed[0] != sealedVersion {
		return nil, errors.New("not a sealed value")
	}
	if subtle.ConstantTimeCompare(sealed[1:9], k.id[:]) != 1 {
		return nil, ErrWrongMasterKey
	}
	rest := sealed[9:]
	wrapped := rest[:wrappedKeyLen]
	dataKey, err := k.master.Open(nil, wrapped[:12], wrapped[12:], k.id[:])
	if err != nil {
		return nil, errors.New("the data key does not open with the master key")
	}
	defer clear(dataKey)
	data, err := newGCM(dataKey)
	if err != nil {
		return nil, err
	}
	rest = rest[wrappedKeyLen:]
	plain, err := data.Open(nil, rest[:12], rest[12:], aad)
	if err != nil {
		return nil, errors.New("the sealed value is corrupt or belongs elsewhere")
	}
	return plain, nil
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return b
}

// APIKeyPrefix starts every org API key, so a leaked key is recognisable (secret scanners)
// and a key is told from other bearer tokens at a glance.
const APIKeyPrefix = "cpk_"

const keyIDAlphabet = "abcdefghijklmnopqrstuvwxyz0123456789"

// NewAPIKey returns a new key id and the full token `cpk_<id>_<secret>`: the id is for
// lookup, the 256-bit secret is what makes the token unguessable.
func NewAPIKey() (id, token string) {
	raw := randomBytes(16)
	b := make([]byte, 16)
	for i := range b {
		b[i] = keyIDAlphabet[int(raw[i])%len(keyIDAlphabet)]
	}
	id = string(b)
	token = APIKeyPrefix + id + "_" + base64.RawURLEncoding.EncodeToString(randomBytes(32))
	return id, token
}

// ParseAPIKey returns the key id of a token shaped like one made by NewAPIKey.
func ParseAPIKey(token string) (id string, ok bool) {
	rest, found := strings.CutPrefix(token, APIKeyPrefix)
	if !found {
		return "", false
	}
	id, secret, found := strings.Cut(rest, "_")
	if !found || len(id) != 16 || len(secret) != 43 {
		return "", false
	}
	return id, true
}

// HashAPIKey is what the store keeps of a token. The tokens are 256-bit random, so a
// plain SHA-256 (no salt, no stretching) is enough: there is nothing to brute-force.
func HashAPIKey(token string) []byte {
	sum := sha256.Sum256([]byte(token))
	return sum[:]
}

// EqualHashes compares two hashes in constant time.
func EqualHashes(a, b []byte) bool { return subtle.ConstantTimeCompare(a, b) == 1 }

// EqualTokens compares two secrets in constant time, whatever their lengths.
func EqualTokens(a, b string) bool {
	ha, hb := sha256.Sum256([]byte(a)), sha256.Sum256([]byte(b))
	return subtle.ConstantTimeCompare(ha[:], hb[:]) == 1
}
