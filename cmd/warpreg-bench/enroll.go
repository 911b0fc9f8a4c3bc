package main

import (
	"bytes"
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	mrand "math/rand/v2"
	"net/http"
	"strings"
	"sync"
)

// enrolled is a registration the tool enrolled itself, with its token.
type enrolled struct {
	id, token string
	body      []byte // the heartbeat's body
}

// heartbeatWorker checks in random devices among those enrolled at setup.
type heartbeatWorker struct {
	p   *plan
	rng *mrand.Rand
}

func (w *heartbeatWorker) next() *op {
	e := &w.p.enrolls[w.rng.IntN(len(w.p.enrolls))]
	return &op{name: "heartbeat", method: http.MethodPost, token: e.token, body: e.body,
		path: "/enroll/v1/registrations/" + e.id + "/heartbeat"}
}

func (w *heartbeatWorker) done(*op, int, []byte) {}

// enrollForHeartbeats enrols devices through the enrolment API and keeps their
// tokens: seeded registrations have no secret to authenticate a heartbeat with.
// The static baseline gets made-up ones, as it checks nothing.
func enrollForHeartbeats(ctx context.Context, d *driver, p *plan) error {
	n := p.o.heartbeatDevices
	p.enrolls = make([]enrolled, n)
	if p.static {
		rng := p.newRand(streamStatic)
		for i := range p.enrolls {
			p.enrolls[i] = enrolled{id: randomUUID(rng), token: randomHex(rng, 20),
				body: []byte(`{"client_version":"2025.1.861.0"}`)}
		}
		return nil
	}
	errs := make(chan error, d.conns)
	var wg sync.WaitGroup
	for c := range d.conns {
		wg.Go(func() { errs <- enrollRange(ctx, d, p, c) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			return fmt.Errorf("enrol devices for heartbeats: %w", err)
		}
	}
	return nil
}

// enrollRange enrols the devices c, c+conns, c+2*conns... of p.enrolls.
func enrollRange(ctx context.Context, d *driver, p *plan, c int) error {
	rng := p.newRand(streamEnroll + uint64(c))
	var buf bytes.Buffer
	s := d.session(ctx)
	defer s.close()
	for i := c; i < len(p.enrolls); i += d.conns {
		body, version := enrollBody(rng)
		o := &op{method: http.MethodPost, path: "/enroll/v1/registrations", body: body,
			token: p.c.main().EnrollmentKey}
		status, err := s.do(o, &buf)
		if err != nil {
			return err
		}
		if status != http.StatusCreated {
			return fmt.Errorf("enrolment answered %d: %s", status, firstLine(buf.Bytes()))
		}
		var out struct {
			Result struct{ ID, Token string } `json:"result"`
		}
		if err := json.Unmarshal(buf.Bytes(), &out); err != nil {
			return fmt.Errorf("decode enrolment: %w", err)
		}
		p.enrolls[i] = enrolled{id: out.Result.ID, token: out.Result.Token,
			body: []byte(`{"client_version":"` + version + `"}`)}
	}
	return nil
}

// enrollWorker enrols new devices, each with a fresh key the server must validate.
type enrollWorker struct {
	p   *plan
	rng *mrand.Rand
}

func (w *enrollWorker) next() *op {
	body, _ := enrollBody(w.rng)
	return &op{name: "enroll", method: http.MethodPost, path: "/enroll/v1/registrations",
		body: body, token: w.p.c.main().EnrollmentKey}
}

func (w *enrollWorker) done(*op, int, []byte) {}

// enrollBody returns an enrolment of a new device and user, and its client version.
// A third of the keys are P-256 (MASQUE), generated for real so that the server's
// on-curve check does real work.
func enrollBody(rng *mrand.Rand) ([]byte, string) {
	m := models[rng.IntN(len(models))]
	first, last := firstNames[rng.IntN(len(firstNames))], lastNames[rng.IntN(len(lastNames))]
	key, keyType := freshKey(rng.IntN(3) == 0)
	version := clientVersions[rng.IntN(len(clientVersions))]
	tag := randomHex(rng, 8)
	body, _ := json.Marshal(map[string]any{
		"key": key, "key_type": keyType,
		"device": map[string]string{
			"name": first + "'s " + m.label, "model": m.model, "manufacturer": m.maker,
			"device_type": m.kind, "os_version": m.os, "serial_number": "BENCH" + tag,
			"hardware_id": randomUUID(rng), "client_version": version,
		},
		"user": map[string]any{
			"email": strings.ToLower(first+"."+last) + "." + tag + "@load.example",
			"name":  first + " " + last, "groups": []string{"staff"},
		},
	})
	return body, version
}

// freshKey returns a new public key in the form a WARP client sends it.
func freshKey(p256 bool) (key, keyType string) {
	if !p256 {
		var b [32]byte
		rand.Read(b[:])
		return base64.StdEncoding.EncodeToString(b[:]), "curve25519"
	}
	k, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		panic(fmt.Sprintf("generate p-256 key: %v", err)) // crypto/rand does not fail
	}
	der, err := x509.MarshalPKIXPublicKey(k.PublicKey())
	if err != nil {
		panic(fmt.Sprintf("encode p-256 key: %v", err))
	}
	return base64.StdEncoding.EncodeToString(der), "secp256r1"
}
