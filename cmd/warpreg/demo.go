package main

import (
	"bytes"
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/warpreg/warpreg/internal/config"
	"github.com/warpreg/warpreg/internal/device"
)

const demoDevices = 50

func demoCommand(fs *flag.FlagSet, c *config.Config) func(context.Context, *env) error {
	c.RegisterServe(fs)
	return func(ctx context.Context, e *env) error {
		svc, closeFn, err := openService(ctx, e)
		if err != nil {
			return err
		}
		ln, err := net.Listen("tcp", e.cfg.Addr)
		if err != nil {
			closeFn()
			return err
		}
		var setupErr error
		err = serve(ctx, e, svc, ln, func(base string) {
			if setupErr = seedDemo(ctx, e, svc, base); setupErr != nil {
				ln.Close()
			}
		})
		if setupErr != nil {
			err = setupErr
		}
		return closeAfterServe(ctx, e, err, closeFn)
	}
}

// seedDemo creates a demo account and enrols devices through the real enrolment API
// of the server at base, then prints how to call it.
func seedDemo(ctx context.Context, e *env, svc *device.Service, base string) error {
	acct, err := svc.CreateAccount(ctx, "Demo "+time.Now().UTC().Format(time.RFC3339), false)
	if err != nil {
		return err
	}
	_, token, err := svc.CreateAPIToken(ctx, acct.ID, "demo", false)
	if err != nil {
		return err
	}
	_, enrollKey, err := svc.CreateEnrollmentKey(ctx, acct.ID, true, time.Hour)
	if err != nil {
		return err
	}
	var first string
	for i := range demoDevices {
		id, err := enrollDemoDevice(ctx, base, enrollKey, i)
		if err != nil {
			return fmt.Errorf("enrol demo device %d: %w", i, err)
		}
		if first == "" {
			first = id
		}
	}
	url := fmt.Sprintf("%s/client/v4/accounts/%s/devices/registrations/%s", base, acct.ID, first)
	return printResult(e, map[string]any{
		"account_id": acct.ID, "token": token, "registration_id": first, "base_url": base + "/client/v4",
	},
		"",
		fmt.Sprintf("Demo account with %d enrolled devices:", demoDevices),
		"",
		"export ACCOUNT_ID="+acct.ID,
		"export CLOUDFLARE_API_TOKEN="+token,
		"export REGISTRATION_ID="+first,
		"",
		"curl \""+url+"?include=policy\" \\",
		"    -H \"Authorization: Bearer "+token+"\"",
		"",
		"Serving until interrupted (Ctrl-C).",
	)
}

var demoPeople = []struct{ name, email string }{
	{"Ada Lovelace", "ada@example.com"}, {"Alan Turing", "alan@example.com"},
	{"Grace Hopper", "grace@example.com"}, {"Edsger Dijkstra", "edsger@example.com"},
	{"Barbara Liskov", "barbara@example.com"}, {"Ken Thompson", "ken@example.com"},
	{"Frances Allen", "frances@example.com"},
}

var demoModels = []struct{ model, maker, kind, os string }{
	{"MacBookPro18,3", "Apple Inc.", "mac", "14.4.1"},
	{"ThinkPad X1 Carbon Gen 11", "Lenovo", "windows", "10.0.22631"},
	{"Pixel 8", "Google", "android", "14"},
	{"iPhone15,2", "Apple Inc.", "ios", "17.4"},
	{"XPS 13 9340", "Dell Inc.", "linux", "6.8.0"},
}

func enrollDemoDevice(ctx context.Context, base, enrollKey string, i int) (string, error) {
	p, m := demoPeople[i%len(demoPeople)], demoModels[i%len(demoModels)]
	key, keyType, tunnel := demoKey(i)
	body, _ := json.Marshal(map[string]any{
		"key": key, "key_type": keyType, "tunnel_type": tunnel,
		"device": map[string]string{
			"name": fmt.Sprintf("%s's %s %d", firstName(p.name), m.kind, i+1), "model": m.model,
			"manufacturer": m.maker, "device_type": m.kind, "os_version": m.os,
			"serial_number": fmt.Sprintf("DEMO%06d", i), "hardware_id": device.NewID(),
			"client_version": "2024.6.415.0",
		},
		"user": map[string]any{"email": p.email, "name": p.name, "groups": []string{"staff"}},
	})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/enroll/v1/registrations",
		bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Authorization", "Bearer "+enrollKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var out struct {
		Result struct {
			ID string `json:"id"`
		} `json:"result"`
	}
	if resp.StatusCode != http.StatusCreated {
		return "", fmt.Errorf("enrolment answered %s", resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return "", err
	}
	return out.Result.ID, nil
}

// demoKey returns a fresh public key: WireGuard for most devices, MASQUE for every
// third.
func demoKey(i int) (key, keyType, tunnel string) {
	if i%3 == 2 {
		k, _ := ecdh.P256().GenerateKey(rand.Reader)
		der, _ := x509.MarshalPKIXPublicKey(k.PublicKey())
		return base64.StdEncoding.EncodeToString(der), "secp256r1", "masque"
	}
	k, _ := ecdh.X25519().GenerateKey(rand.Reader)
	return base64.StdEncoding.EncodeToString(k.PublicKey().Bytes()), "curve25519", "wireguard"
}

func firstName(full string) string {
	for i, r := range full {
		if r == ' ' {
			return full[:i]
		}
	}
	return full
}
