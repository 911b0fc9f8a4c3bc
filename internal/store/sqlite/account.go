package sqlite

import (
	"strings"

	"github.com/warpreg/warpreg/internal/device"
	"github.com/warpreg/warpreg/internal/store/row"
)

// Registrations and devices refer to their account by its number, accounts.num
// (migration 0012): a small integer (one byte up to 127) in place of a 33-byte id,
// in each row and in each of their indexes. The PostgreSQL schema and the SQL that
// package row shares keep the id. A query binds an account id through accountNum,
// and the shared selects are rewritten here, once, to read the id back.

// accountNum is the number of the account whose id is bound in its place. It is
// evaluated once per statement, so an index on (account_id, ...) is searched by
// equality, as with a bound value.
const accountNum = `(SELECT num FROM accounts WHERE id = ?)`

// accountIDs rewrites the account columns of the shared selects, on the aliases r
// and d, to the id of the account they number.
var accountIDs = strings.NewReplacer(
	"r.account_id", "(SELECT id FROM accounts WHERE num = r.account_id)",
	"d.account_id", "(SELECT id FROM accounts WHERE num = d.account_id)",
)

// coveringReads names the covering indexes of migration 0013 for the one-read get
// and the lists, which the planner would otherwise pass over for the unique keys'
// indexes whenever its statistics lack them.
var coveringReads = strings.NewReplacer(
	"FROM api_tokens t", "FROM api_tokens t INDEXED BY api_tokens_auth",
	"JOIN profiles p", "JOIN profiles p INDEXED BY profiles_view",
)

// The shared selects as this schema answers them.
var (
	registrationSelect      = accountIDs.Replace(row.RegistrationSelect)
	registrationViewSelect  = coveringReads.Replace(row.RegistrationViewSelect)
	tokenRegistrationSelect = coveringReads.Replace(
		accountIDs.Replace(row.TokenRegistrationSelect))
	candidateSelect      = accountIDs.Replace(row.CandidateSelect)
	deviceViewSelect     = accountIDs.Replace(row.DeviceViewSelect)
	deviceSelect         = accountIDs.Replace(row.DeviceSelect)
	deviceSelectNoPolicy = accountIDs.Replace(row.DeviceSelectNoPolicy)
)

// deviceListSelect is row.DeviceListSelect in this schema: with the profile only
// when q asks for it.
func deviceListSelect(q *device.DeviceListQuery) string {
	if q.WithPolicy {
		return deviceSelect
	}
	return deviceSelectNoPolicy
}
