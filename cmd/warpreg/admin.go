package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/warpreg/warpreg/internal/cli"
	"github.com/warpreg/warpreg/internal/config"
	"github.com/warpreg/warpreg/internal/device"
	"github.com/warpreg/warpreg/internal/httpapi"
)

func accountCreateCommand(fs *flag.FlagSet, _ *config.Config) func(context.Context, *env) error {
	name := fs.String("name", "", "the account's name (required)")
	multi := fs.Bool("multi-user", false, "let one device hold a registration per user")
	return func(ctx context.Context, e *env) error {
		if strings.TrimSpace(*name) == "" {
			return cli.Usagef("--name is required")
		}
		svc, closeFn, err := openService(ctx, e)
		if err != nil {
			return err
		}
		defer closeFn()
		a, err := svc.CreateAccount(ctx, *name, *multi)
		if err != nil {
			return err
		}
		return printResult(e, map[string]any{
			"id": a.ID, "name": a.Name, "multi_user": a.MultiUser,
			"created_at": a.CreatedAt.Format(time.RFC3339Nano),
		}, "account "+a.ID+" created")
	}
}

func tokenCreateCommand(fs *flag.FlagSet, _ *config.Config) func(context.Context, *env) error {
	account := fs.String("account", "", "the account id (required)")
	readOnly := fs.Bool("read-only", false, "a token that may only read")
	name := fs.String("name", "", "a label for the token")
	return func(ctx context.Context, e *env) error {
		if *account == "" {
			return cli.Usagef("--account is required")
		}
		svc, closeFn, err := openService(ctx, e)
		if err != nil {
			return err
		}
		defer closeFn()
		t, secret, err := svc.CreateAPIToken(ctx, *account, *name, *readOnly)
		if err != nil {
			return err
		}
		return printResult(e, map[string]any{
			"id": t.ID, "value": secret, "name": t.Name, "account_id": t.AccountID,
			"read_only": t.ReadOnly,
		}, secret)
	}
}

func globalKeyCreateCommand(fs *flag.FlagSet, _ *config.Config) func(context.Context, *env) error {
	account := fs.String("account", "", "the account id (required)")
	email := fs.String("email", "", "the user's email, sent as X-Auth-Email (required)")
	return func(ctx context.Context, e *env) error {
		if *account == "" || *email == "" {
			return cli.Usagef("--account and --email are required")
		}
		svc, closeFn, err := openService(ctx, e)
		if err != nil {
			return err
		}
		defer closeFn()
		k, secret, err := svc.CreateGlobalKey(ctx, *account, *email)
		if err != nil {
			return err
		}
		return printResult(e, map[string]any{
			"id": k.ID, "email": k.Email, "value": secret, "account_id": k.AccountID,
		}, secret)
	}
}

func enrollKeyCommand(fs *flag.FlagSet, _ *config.Config) func(context.Context, *env) error {
	account := fs.String("account", "", "the account id (required)")
	reusable := fs.Bool("reusable", false, "a key that enrols any number of devices (default: one)")
	expiresIn := fs.Duration("expires-in", 0, "how long the key stays valid, e.g. 24h; "+
		"0, the default, means it never expires")
	return func(ctx context.Context, e *env) error {
		if *account == "" {
			return cli.Usagef("--account is required")
		}
		if *expiresIn < 0 {
			return cli.Usagef("--expires-in must not be negative")
		}
		svc, closeFn, err := openService(ctx, e)
		if err != nil {
			return err
		}
		defer closeFn()
		k, secret, err := svc.CreateEnrollmentKey(ctx, *account, *reusable, *expiresIn)
		if err != nil {
			return err
		}
		var expires any
		if !k.ExpiresAt.IsZero() {
			expires = k.ExpiresAt.Format(time.RFC3339Nano)
		}
		return printResult(e, map[string]any{
			"id": k.ID, "value": secret, "account_id": k.AccountID, "reusable": k.Reusable,
			"expires_at": expires,
		}, secret)
	}
}

func importCommand(fs *flag.FlagSet, _ *config.Config) func(context.Context, *env) error {
	account := fs.String("account", "", "the account id to load into (required)")
	return func(ctx context.Context, e *env) error {
		if *account == "" || len(e.args) == 0 {
			return cli.Usagef("usage: warpreg import --account ID FILE...")
		}
		var regs []device.Registration
		for _, path := range e.args {
			data, err := readImportFile(path)
			if err != nil {
				return err
			}
			got, err := httpapi.DecodeRegistrations(data)
			if err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
			regs = append(regs, got...)
		}
		svc, closeFn, err := openService(ctx, e)
		if err != nil {
			return err
		}
		defer closeFn()
		sum, err := svc.Import(ctx, *account, regs)
		if err != nil {
			return err
		}
		return printResult(e, map[string]any{
			"account_id": *account, "files": len(e.args), "registrations": sum.Registrations,
			"devices": sum.Devices, "users": sum.Users, "profiles": sum.Profiles,
			"skipped": sum.Skipped,
		}, fmt.Sprintf("imported %d registrations (%d devices, %d users, %d profiles) from %d "+
			"files; skipped %d enrolled or deleted here", sum.Registrations, sum.Devices,
			sum.Users, sum.Profiles, len(e.args), sum.Skipped))
	}
}

// maxImportFile is the most that import reads from one FILE. A list page of
// Cloudflare's API holds at most 1,000 registrations of a few KiB each, so the
// limit leaves ample room; it is there so that a wrong path (a device, an endless
// pipe) fails at once instead of filling memory. Tests lower it.
var maxImportFile int64 = 64 << 20

// readImportFile reads the file at path whole, refusing one over maxImportFile:
// a regular file by its size, before reading it, anything else after reading one
// byte past the limit.
func readImportFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()

	tooLarge := fmt.Errorf("%s: larger than %s, the most import reads from one file",
		path, sizeText(maxImportFile))
	if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() && fi.Size() > maxImportFile {
		return nil, tooLarge
	}
	data, err := io.ReadAll(io.LimitReader(f, maxImportFile+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if int64(len(data)) > maxImportFile {
		return nil, tooLarge
	}
	return data, nil
}

// sizeText writes n bytes in MiB when it is a whole number of them.
func sizeText(n int64) string {
	if n >= 1<<20 && n%(1<<20) == 0 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d bytes", n)
}
