package main

import (
	"context"
	"flag"
	"fmt"
	"time"

	"github.com/warpreg/warpreg/internal/cli"
	"github.com/warpreg/warpreg/internal/config"
	"github.com/warpreg/warpreg/internal/device"
)

// The list, revoke and roll commands of each credential kind. A list never shows a
// secret (none is stored); a roll shows the new one once, as create does.

func tokenListCommand(fs *flag.FlagSet, _ *config.Config) func(context.Context, *env) error {
	account := accountFlag(fs)
	return func(ctx context.Context, e *env) error {
		return withService(ctx, e, *account, "", "", func(svc *device.Service) error {
			ts, err := svc.APITokens(ctx, *account)
			if err != nil {
				return err
			}
			rows, lines := make([]map[string]any, len(ts)), make([]string, len(ts))
			for i, t := range ts {
				rows[i] = tokenJSON(&t)
				lines[i] = fmt.Sprintf("%s\t%s\t%s\t%s", t.ID, access(t.ReadOnly),
					t.CreatedAt.Format(time.RFC3339), t.Name)
			}
			return printResult(e, rows, lines...)
		})
	}
}

func globalKeyListCommand(fs *flag.FlagSet, _ *config.Config) func(context.Context, *env) error {
	account := accountFlag(fs)
	return func(ctx context.Context, e *env) error {
		return withService(ctx, e, *account, "", "", func(svc *device.Service) error {
			ks, err := svc.GlobalKeys(ctx, *account)
			if err != nil {
				return err
			}
			rows, lines := make([]map[string]any, len(ks)), make([]string, len(ks))
			for i, k := range ks {
				rows[i] = map[string]any{"id": k.ID, "email": k.Email, "account_id": k.AccountID,
					"created_at": k.CreatedAt.Format(time.RFC3339Nano)}
				lines[i] = fmt.Sprintf("%s\t%s\t%s", k.ID, k.CreatedAt.Format(time.RFC3339), k.Email)
			}
			return printResult(e, rows, lines...)
		})
	}
}

func globalKeyRevokeCommand(fs *flag.FlagSet, _ *config.Config) func(context.Context, *env) error {
	account, email := accountFlag(fs), fs.String("email", "", "the key's user email (required)")
	return func(ctx context.Context, e *env) error {
		return withService(ctx, e, *account, "--email", *email, func(svc *device.Service) error {
			k, err := svc.GlobalKeyByEmail(ctx, *account, *email)
			if err != nil {
				return err
			}
			return revoke(ctx, e, svc, device.CredentialGlobalKey, *account, k.ID,
				map[string]any{"email": k.Email})
		})
	}
}

func globalKeyRollCommand(fs *flag.FlagSet, _ *config.Config) func(context.Context, *env) error {
	account, email := accountFlag(fs), fs.String("email", "", "the key's user email (required)")
	return func(ctx context.Context, e *env) error {
		return withService(ctx, e, *account, "--email", *email, func(svc *device.Service) error {
			k, err := svc.GlobalKeyByEmail(ctx, *account, *email)
			if err != nil {
				return err
			}
			secret, err := svc.RollCredential(ctx, device.CredentialGlobalKey, *account, k.ID)
			if err != nil {
				return err
			}
			return printResult(e, map[string]any{
				"id": k.ID, "email": k.Email, "value": secret, "account_id": k.AccountID,
			}, secret)
		})
	}
}

func enrollKeyListCommand(fs *flag.FlagSet, _ *config.Config) func(context.Context, *env) error {
	account := accountFlag(fs)
	return func(ctx context.Context, e *env) error {
		return withService(ctx, e, *account, "", "", func(svc *device.Service) error {
			ks, err := svc.EnrollmentKeys(ctx, *account)
			if err != nil {
				return err
			}
			now := svc.Now()
			rows, lines := make([]map[string]any, len(ks)), make([]string, len(ks))
			for i, k := range ks {
				rows[i] = enrollKeyJSON(&k)
				rows[i]["usable"] = k.Usable(now)
				state := "usable"
				if !k.Usable(now) {
					state = "used up or expired"
				}
				lines[i] = fmt.Sprintf("%s\t%s\t%s\t%s", k.ID, reuse(k.Reusable),
					k.CreatedAt.Format(time.RFC3339), state)
			}
			return printResult(e, rows, lines...)
		})
	}
}

// The revoke and roll commands of the credentials named by id: API tokens and
// enrolment keys. (Global keys are named by their user's email.)
var (
	tokenRevokeCommand     = revokeByIDCommand(device.CredentialAPIToken, "the token's id")
	enrollKeyRevokeCommand = revokeByIDCommand(device.CredentialEnrollmentKey,
		"the enrollment key's id")
	tokenRollCommand = rollByIDCommand(device.CredentialAPIToken, "the token's id",
		func(ctx context.Context, svc *device.Service, account, id string) (map[string]any, error) {
			ts, err := svc.APITokens(ctx, account)
			for _, t := range ts {
				if t.ID == id {
					return tokenJSON(&t), err
				}
			}
			return nil, err
		})
	enrollKeyRollCommand = rollByIDCommand(device.CredentialEnrollmentKey,
		"the enrollment key's id",
		func(ctx context.Context, svc *device.Service, account, id string) (map[string]any, error) {
			ks, err := svc.EnrollmentKeys(ctx, account)
			for _, k := range ks {
				if k.ID == id {
					return enrollKeyJSON(&k), err
				}
			}
			return nil, err
		})
)

type commandFunc = func(fs *flag.FlagSet, _ *config.Config) func(context.Context, *env) error

func revokeByIDCommand(kind device.CredentialKind, idHelp string) commandFunc {
	return func(fs *flag.FlagSet, _ *config.Config) func(context.Context, *env) error {
		account, id := accountFlag(fs), fs.String("id", "", idHelp+" (required)")
		return func(ctx context.Context, e *env) error {
			return withService(ctx, e, *account, "--id", *id, func(svc *device.Service) error {
				return revoke(ctx, e, svc, kind, *account, *id, nil)
			})
		}
	}
}

// rollByIDCommand rolls a credential and prints it as its list shows it (found by
// find), with the new secret.
func rollByIDCommand(kind device.CredentialKind, idHelp string,
	find func(ctx context.Context, svc *device.Service, account, id string) (map[string]any, error),
) commandFunc {
	return func(fs *flag.FlagSet, _ *config.Config) func(context.Context, *env) error {
		account, id := accountFlag(fs), fs.String("id", "", idHelp+" (required)")
		return func(ctx context.Context, e *env) error {
			return withService(ctx, e, *account, "--id", *id, func(svc *device.Service) error {
				secret, err := svc.RollCredential(ctx, kind, *account, *id)
				if err != nil {
					return err
				}
				out, err := find(ctx, svc, *account, *id)
				if err != nil {
					return err
				}
				if out == nil {
					out = map[string]any{"id": *id, "account_id": *account}
				}
				out["value"] = secret
				return printResult(e, out, secret)
			})
		}
	}
}

func accountFlag(fs *flag.FlagSet) *string {
	return fs.String("account", "", "the account id (required)")
}

// withService checks that --account and the flag named by refFlag (if any) are
// given, then runs fn on a service over the configured database.
func withService(
	ctx context.Context, e *env, account, refFlag, ref string, fn func(*device.Service) error,
) error {
	switch {
	case account == "" && refFlag != "":
		return cli.Usagef("--account and %s are required", refFlag)
	case account == "":
		return cli.Usagef("--account is required")
	case refFlag != "" && ref == "":
		return cli.Usagef("%s is required", refFlag)
	}
	svc, closeFn, err := openService(ctx, e)
	if err != nil {
		return err
	}
	defer closeFn()
	return fn(svc)
}

// revoke revokes one credential and reports it; extra adds fields to the JSON.
func revoke(
	ctx context.Context, e *env, svc *device.Service, kind device.CredentialKind,
	account, id string, extra map[string]any,
) error {
	if err := svc.RevokeCredential(ctx, kind, account, id); err != nil {
		return err
	}
	out := map[string]any{"id": id, "account_id": account, "revoked": true}
	for k, v := range extra {
		out[k] = v
	}
	return printResult(e, out, fmt.Sprintf("%s %s revoked", kind, id))
}

func tokenJSON(t *device.APIToken) map[string]any {
	return map[string]any{"id": t.ID, "name": t.Name, "account_id": t.AccountID,
		"read_only": t.ReadOnly, "created_at": t.CreatedAt.Format(time.RFC3339Nano)}
}

func enrollKeyJSON(k *device.EnrollmentKey) map[string]any {
	out := map[string]any{"id": k.ID, "account_id": k.AccountID, "reusable": k.Reusable,
		"expires_at": nil, "used_at": nil, "created_at": k.CreatedAt.Format(time.RFC3339Nano)}
	if !k.ExpiresAt.IsZero() {
		out["expires_at"] = k.ExpiresAt.Format(time.RFC3339Nano)
	}
	if !k.UsedAt.IsZero() {
		out["used_at"] = k.UsedAt.Format(time.RFC3339Nano)
	}
	return out
}

func access(readOnly bool) string {
	if readOnly {
		return "read"
	}
	return "write"
}

func reuse(reusable bool) string {
	if reusable {
		return "reusable"
	}
	return "single-use"
}
