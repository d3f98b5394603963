// Interop check of runledger's signed notes and cosignatures against golang.org/x/mod/sumdb/note.
// Go's note package verifies Ed25519 (type 0x01) note signatures itself; it knows no cosignature/v1
// (type 0x04) keys, so, as transparency-dev/formats does, a note.Verifier written here checks them:
// key hash SHA-256(name || "\n" || 0x04 || key)[:4], signature timestamp || Ed25519 over
// "cosignature/v1\ntime <t>\n" || body. note.Open does the parsing and the name/key-hash matching.
//
// usage: interop <log vkey> <witness vkey> < cosigned-note
// prints one JSON object: the verified signers, and a cosignature/v1 line Go made over the same body.
package main

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
)

type cosigV1 struct {
	name string
	hash uint32
	pub  ed25519.PublicKey
	priv ed25519.PrivateKey
	time uint64
}

func (v *cosigV1) Name() string    { return v.name }
func (v *cosigV1) KeyHash() uint32 { return v.hash }

func message(t uint64, msg []byte) []byte {
	return append([]byte(fmt.Sprintf("cosignature/v1\ntime %d\n", t)), msg...)
}

func (v *cosigV1) Verify(msg, sig []byte) bool {
	if len(sig) != 8+ed25519.SignatureSize {
		return false
	}
	t := binary.BigEndian.Uint64(sig)
	if t > 1<<63-1 {
		return false
	}
	return ed25519.Verify(v.pub, message(t, msg), sig[8:])
}

func (v *cosigV1) Sign(msg []byte) ([]byte, error) {
	sig := binary.BigEndian.AppendUint64(nil, v.time)
	return append(sig, ed25519.Sign(v.priv, message(v.time, msg))...), nil
}

func keyHash(name string, typeAndKey []byte) uint32 {
	h := sha256.New()
	h.Write([]byte(name + "\n"))
	h.Write(typeAndKey)
	return binary.BigEndian.Uint32(h.Sum(nil))
}

func cosigVerifier(vkey string) (*cosigV1, error) {
	parts := strings.SplitN(vkey, "+", 3)
	if len(parts) != 3 {
		return nil, fmt.Errorf("malformed witness vkey")
	}
	key, err := base64.StdEncoding.DecodeString(parts[2])
	if err != nil || len(key) != 33 || key[0] != 0x04 {
		return nil, fmt.Errorf("witness vkey is not an Ed25519 cosignature/v1 (0x04) key")
	}
	id, err := strconv.ParseUint(parts[1], 16, 32)
	if err != nil || uint32(id) != keyHash(parts[0], key) {
		return nil, fmt.Errorf("witness vkey hash does not match (expected the 0x04 key hash)")
	}
	return &cosigV1{name: parts[0], hash: uint32(id), pub: ed25519.PublicKey(key[1:])}, nil
}

func main() {
	logV, err := note.NewVerifier(os.Args[1])
	if err != nil {
		fail(err)
	}
	wit, err := cosigVerifier(os.Args[2])
	if err != nil {
		fail(err)
	}
	msg, _ := io.ReadAll(os.Stdin)
	n, err := note.Open(msg, note.VerifierList(logV, wit))
	if err != nil {
		fail(err)
	}
	var signers []string
	for _, s := range n.Sigs {
		signers = append(signers, fmt.Sprintf("%s+%08x", s.Name, s.Hash))
	}
	// A cosignature made by Go over the same body, for runledger to verify (seed 0x2a * 32, time 1234567890).
	seed := make([]byte, 32)
	for i := range seed {
		seed[i] = 0x2a
	}
	priv := ed25519.NewKeyFromSeed(seed)
	pub := priv.Public().(ed25519.PublicKey)
	goWit := &cosigV1{name: "go.example/witness", pub: pub, priv: priv, time: 1234567890}
	goWit.hash = keyHash(goWit.name, append([]byte{0x04}, pub...))
	signed, err := note.Sign(&note.Note{Text: n.Text}, goWit)
	if err != nil {
		fail(err)
	}
	out, _ := json.Marshal(map[string]any{"signers": signers, "goCosigned": string(signed), "goWitnessKey": fmt.Sprintf("%s+%08x+%s", goWit.name, goWit.hash, base64.StdEncoding.EncodeToString(append([]byte{0x04}, pub...)))})
	fmt.Println(string(out))
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}
