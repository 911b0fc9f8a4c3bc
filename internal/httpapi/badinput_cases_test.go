package httpapi_test

import (
	"net/url"
	"strings"

	"github.com/warpreg/warpreg/internal/device"
)

// The cases of the bad-input table, by route. Paths are built on the fixture's
// own account unless a case is about another.

// listMistakes are the mistakes a cursor-paged list of Cloudflare's gets: page
// sizes, timestamps in the forms people write them, and cursors from elsewhere.
// path is the list's path without a query.
func listMistakes(path string, foreignCursors map[string]string) []badCase {
	q := func(query string) string { return path + "?" + query }
	cs := []badCase{
		{name: "per_page zero", path: q("per_page=0"), status: 400, code: 1002,
			msg: "per_page must be an integer from 1 to 1000"},
		{name: "per_page negative", path: q("per_page=-1"), status: 400, code: 1002,
			msg: "per_page must be an integer from 1 to 1000"},
		{name: "per_page over the maximum", path: q("per_page=1001"), status: 400,
			code: 1002, msg: "per_page must be an integer from 1 to 1000"},
		{name: "per_page absurd", path: q("per_page=99999999999999999999"), status: 400,
			code: 1002, msg: "per_page must be an integer from 1 to 1000"},
		{name: "per_page fractional", path: q("per_page=1.5"), status: 400, code: 1002,
			msg: "per_page must be an integer from 1 to 1000"},
		{name: "per_page empty", path: q("per_page="), status: 400, code: 1002,
			msg: "per_page must be an integer from 1 to 1000"},
		{name: "per_page twice", path: q("per_page=1&per_page=2"), status: 400, code: 1002,
			msg: "the per_page query parameter may be given only once"},
		{name: "per_page at the maximum", path: q("per_page=1000"), status: 200},
		{name: "seen_after with fractional seconds",
			path: q("seen_after=2025-01-01T00:00:00.123456789Z"), status: 200},
		{name: "seen_after with an offset", path: q("seen_after=2025-01-01T02:00:00%2B02:00"),
			status: 200},
		{name: "seen_before with a negative offset",
			path: q("seen_before=2099-01-01T00:00:00-05:00"), status: 200},
		{name: "seen_after with + decoded as a space",
			path: q("seen_after=2025-01-01T02:00:00+02:00"), status: 400, code: 1002,
			msg: "a + in a query string must be written %2B"},
		{name: "seen_after a date only", path: q("seen_after=2025-01-01"), status: 400,
			code: 1002, msg: "seen_after must be an RFC 3339 timestamp"},
		{name: "seen_before in Unix seconds", path: q("seen_before=1735689600"), status: 400,
			code: 1002, msg: "seen_before must be an RFC 3339 timestamp"},
		{name: "seen_after without a zone", path: q("seen_after=2025-01-01T00:00:00"),
			status: 400, code: 1002, msg: "seen_after must be an RFC 3339 timestamp"},
		{name: "seen_after twice", path: q("seen_after=2025-01-01T00:00:00Z&" +
			"seen_after=2025-02-01T00:00:00Z"), status: 400, code: 1002,
			msg: "the seen_after query parameter may be given only once"},
		{name: "search with NUL", path: q("search=a%00b"), status: 400, code: 1002,
			msg: "search must not contain control characters"},
		{name: "search with escape", path: q("search=a%1Bb"), status: 400, code: 1002,
			msg: "search must not contain control characters"},
		{name: "search not UTF-8", path: q("search=%ff%fe"), status: 400, code: 1002,
			msg: "search is not valid UTF-8"},
		{name: "search too long", path: q("search=" + strings.Repeat("x", 257)),
			status: 400, code: 1002, msg: "search must be at most 256 characters"},
		{name: "search at the limit", status: 200,
			path: q("search=" + url.QueryEscape(strings.Repeat("é", 256)))},
		{name: "sort_order unknown", path: q("sort_order=up"), status: 400, code: 1002,
			msg: "sort_order must be asc or desc"},
		{name: "id[] spelling", path: q("id[]=" + device.NewID()), status: 400, code: 1002,
			msg: "use id=<value> once per value, not id[]="},
		{name: "empty id in a comma list", path: q("id=" + device.NewID() + ",,"),
			status: 400, code: 1002, msg: "the id query parameter must not be empty"},
		{name: "id not a uuid", path: q("id=hw-a"), status: 400, code: 1002,
			msg: `"hw-a" is not a valid id`},
		{name: "id in upper case", path: q("id=" + strings.ToUpper(device.NewID())),
			status: 400, code: 1002, msg: "is not a valid id"},
		{name: "over 1000 ids", path: q(idQuery(manyIDs(1001))), status: 400, code: 1002,
			msg: "at most 1000 ids may be given in one filter"},
		{name: "1000 ids", path: q(idQuery(manyIDs(1000))), status: 200},
		{name: "comma-joined ids", path: q("id=" + device.NewID() + "," + device.NewID()),
			status: 200},
		{name: "garbage cursor", path: q("cursor=abc"), status: 400, code: 1002,
			msg: badCursor},
		{name: "oversized cursor", path: q("cursor=" + strings.Repeat("A", 4096)),
			status: 400, code: 1002, msg: badCursor},
	}
	for name, c := range foreignCursors {
		cs = append(cs, badCase{name: "cursor from " + name,
			path: q("per_page=1&cursor=" + url.QueryEscape(c)), status: 400, code: 1002,
			msg: badCursor})
	}
	return append(cs, queryMistakes(path)...)
}

func (f *badFixture) registrationListCases() map[string][]badCase {
	h := f.h
	cs := listMistakes(h.regsPath(""), map[string]string{
		"another query":   f.regCursorOf("status=all&per_page=1"),
		"another account": f.otherCursor,
		"the device list": f.devCursor,
		"the audit log":   f.auditCursor,
	})
	q := func(query string) string { return h.regsPath("?" + query) }
	cs = append(cs,
		badCase{name: "own cursor", path: q("per_page=1&cursor=" + f.regCursor), status: 200},
		badCase{name: "status unknown", path: q("status=deleted"), status: 400, code: 1002,
			msg: "status must be active, revoked or all"},
		badCase{name: "sort_by unknown", path: q("sort_by=key"), status: 400, code: 1002,
			msg: "sort_by must be one of"},
		badCase{name: "include unknown", path: q("include=device"), status: 400, code: 1002,
			msg: `include supports only "policy"`},
		badCase{name: "include repeated in a list", path: q("include=policy,policy"),
			status: 200},
		badCase{name: "user.id[] spelling", path: q("user.id[]=" + device.NewID()),
			status: 400, code: 1002, msg: "use user.id=<value> once per value"},
		badCase{name: "user.id not a uuid", path: q("user.id=a@example.com"), status: 400,
			code: 1002, msg: `"a@example.com" is not a valid id`},
		badCase{name: "device.id not a uuid", path: q("device.id=hw-a"), status: 400,
			code: 1002, msg: `device.id "hw-a" is not a valid id`},
		badCase{name: "device.id twice", path: q("device.id=" + f.a.DeviceID + "&device.id=" +
			f.b.DeviceID), status: 400, code: 1002,
			msg: "the device.id query parameter may be given only once"},
	)
	return map[string][]badCase{"GET " + regsRoute: cs}
}

// regCursorOf returns the cursor of a registration list query.
func (f *badFixture) regCursorOf(query string) string {
	return f.cursor(f.h.regsPath("?"+query), f.h.token)
}

// bulkCases covers the bulk delete, revoke and unrevoke, which take their ids in
// the query string.
func (f *badFixture) bulkCases() map[string][]badCase {
	out := map[string][]badCase{}
	for route, path := range map[string]string{
		"DELETE " + regsRoute:             f.h.regsPath(""),
		"POST " + regsRoute + "/revoke":   f.h.regsPath("/revoke"),
		"POST " + regsRoute + "/unrevoke": f.h.regsPath("/unrevoke"),
	} {
		q := func(query string) string { return path + "?" + query }
		missing := device.NewID()
		cs := []badCase{
			{name: "no ids", path: path, status: 400, code: 1002,
				msg: "the id query parameter is required"},
			{name: "ids in a JSON body", path: path, body: map[string]any{"id": []string{f.a.ID}},
				status: 400, code: 1002, msg: "the id query parameter is required"},
			{name: "empty id", path: q("id="), status: 400, code: 1002,
				msg: "the id query parameter must not be empty"},
			{name: "id[] spelling", path: q("id[]=" + f.a.ID), status: 400, code: 1002,
				msg: "use id=<value> once per value, not id[]="},
			{name: "id not a uuid", path: q("id=" + f.a.DeviceID + "x"), status: 400,
				code: 1002, msg: "is not a valid registration id"},
			{name: "account id for an id", path: q("id=" + f.h.acct.ID), status: 400,
				code: 1002, msg: "is not a valid registration id"},
			{name: "id in upper case", path: q("id=" + strings.ToUpper(f.a.ID)), status: 400,
				code: 1002, msg: "is not a valid registration id"},
			{name: "over 200 ids", path: q(idQuery(append(manyIDs(200), f.a.ID))),
				status: 400, code: 1002, msg: "at most 200 ids may be given in one call"},
			{name: "200 ids, one unknown", path: q(idQuery(append(manyIDs(199), f.a.ID))),
				status: 404, code: 1001, msg: "not found"},
			{name: "comma-joined ids, one unknown", path: q("id=" + f.a.ID + "," + missing),
				status: 404, code: 1001, msg: "registration " + missing + " not found"},
			{name: "repeated ids, one unknown", path: q("id=" + f.a.ID + "&id=" + missing),
				status: 404, code: 1001, msg: "registration " + missing + " not found"},
			{name: "another account's id", path: q("id=" + f.a.ID + "&id=" + f.theirs.ID),
				status: 404, code: 1001, msg: "registration " + f.theirs.ID + " not found"},
		}
		out[route] = append(cs, queryMistakes(q("id="+f.a.ID))...)
	}
	return out
}

// registrationCases covers the routes of one registration.
func (f *badFixture) registrationCases() map[string][]badCase {
	h := f.h
	one := h.regsPath("/" + f.a.ID)
	missing := device.NewID()
	get := []badCase{
		{name: "id not a uuid", path: h.regsPath("/hw-a"), status: 400, code: 7003,
			msg: notRouted},
		{name: "id with an encoded slash", path: h.regsPath("/" + f.a.ID + "%2Fx"),
			status: 400, code: 7003, msg: notRouted},
		{name: "id not UTF-8", path: h.regsPath("/%ff"), status: 400, code: 7003,
			msg: notRouted},
		{name: "unknown id", path: h.regsPath("/" + missing), status: 404, code: 1001,
			msg: "not found"},
		{name: "include unknown", path: one + "?include=user", status: 400, code: 1002,
			msg: `include supports only "policy"`},
		{name: "include twice", path: one + "?include=policy&include=policy", status: 400,
			code: 1002, msg: "the include query parameter may be given only once"},
		{name: "include policy", path: one + "?include=policy", status: 200},
	}
	get = append(get, queryMistakes(one)...)
	get = append(get, pathTricks(one)...)
	del := []badCase{
		{name: "id not a uuid", path: h.regsPath("/hw-a"), status: 400, code: 7003,
			msg: notRouted},
		{name: "id with an encoded slash", path: h.regsPath("/" + f.a.ID + "%2F" + f.b.ID),
			status: 400, code: 7003, msg: notRouted},
		{name: "unknown id", path: h.regsPath("/" + missing), status: 404, code: 1001,
			msg: "registration " + missing + " not found"},
	}
	del = append(del, queryMistakes(one)...)
	del = append(del, pathTricks(one)...)
	return map[string][]badCase{
		"GET " + regsRoute + "/{registration_id}":    get,
		"DELETE " + regsRoute + "/{registration_id}": del,
	}
}

// deviceCases covers the physical device routes.
func (f *badFixture) deviceCases() map[string][]badCase {
	h := f.h
	list := listMistakes(h.devicesPath(""), map[string]string{
		"the registration list": f.regCursor,
		"another query": f.cursor(h.devicesPath("?per_page=1&active_registrations=include"),
			h.token),
	})
	list = append(list,
		badCase{name: "registration filter", path: h.devicesPath("?status=active"),
			status: 400, code: 1002, msg: `unknown query parameter "status"`},
		badCase{name: "active_registrations unknown",
			path: h.devicesPath("?active_registrations=all"), status: 400, code: 1002,
			msg: "active_registrations"},
		badCase{name: "last_seen_user.email too long", path: h.devicesPath(
			"?last_seen_user.email=" + strings.Repeat("a", 91)), status: 400, code: 1002,
			msg: "last_seen_user.email must be at most 90 characters"},
	)
	one := h.devicesPath("/" + f.a.DeviceID)
	idCases := func(suffix string) []badCase {
		cs := []badCase{
			{name: "id not a uuid", path: h.devicesPath("/hw-a" + suffix), status: 400,
				code: 7003, msg: notRouted},
			{name: "unknown id", path: h.devicesPath("/" + device.NewID() + suffix),
				status: 404, code: 1001, msg: "not found"},
			{name: "another account's id", path: h.devicesPath("/" + f.theirs.DeviceID + suffix),
				status: 404, code: 1001, msg: "not found"},
		}
		cs = append(cs, queryMistakes(one+suffix)...)
		return append(cs, pathTricks(one+suffix)...)
	}
	get := append(idCases(""),
		badCase{name: "registration include", path: one + "?include=policy", status: 400,
			code: 1002, msg: `include supports only "last_seen_registration.policy"`})
	return map[string][]badCase{
		"GET " + devsRoute:                          list,
		"GET " + devsRoute + "/{device_id}":         get,
		"DELETE " + devsRoute + "/{device_id}":      idCases(""),
		"POST " + devsRoute + "/{device_id}/revoke": idCases("/revoke"),
	}
}

// ownCases covers warpreg's own admin routes under /api/v1.
func (f *badFixture) ownCases() map[string][]badCase {
	h := f.h
	changes := "/api/v1/accounts/" + h.acct.ID + "/registrations/changes"
	seqMsg := "after must be a change sequence number"
	feed := []badCase{
		{name: "after negative", path: changes + "?after=-1", status: 400, code: 1002,
			msg: seqMsg},
		{name: "after not a number", path: changes + "?after=latest", status: 400, code: 1002,
			msg: seqMsg},
		{name: "after absurd", path: changes + "?after=99999999999999999999", status: 400,
			code: 1002, msg: seqMsg},
		{name: "after twice", path: changes + "?after=1&after=2", status: 400, code: 1002,
			msg: "the after query parameter may be given only once"},
		{name: "limit zero", path: changes + "?limit=0", status: 400, code: 1002,
			msg: "limit must be between 1 and 1000"},
		{name: "limit over the maximum", path: changes + "?limit=1001", status: 400,
			code: 1002, msg: "limit must be between 1 and 1000"},
		{name: "limit not a number", path: changes + "?limit=all", status: 400, code: 1002,
			msg: "limit must be an integer from 1 to 1000"},
		{name: "after beyond the newest change", path: changes + "?after=1000000",
			status: 400, code: 1002, msg: "after 1000000 is beyond the newest change"},
		{name: "after zero", path: changes + "?after=0", status: 200},
	}
	stream := []badCase{
		{name: "after not a number", path: changes + "/stream?after=x", status: 400,
			code: 1002, msg: seqMsg},
		{name: "Last-Event-ID not a number", path: changes + "/stream",
			headers: []string{"Authorization", "Bearer " + h.token, "Last-Event-ID", "x"},
			status:  400, code: 1002,
			msg: "the Last-Event-ID header must be a change sequence number"},
		{name: "after malformed beside a Last-Event-ID", path: changes + "/stream?after=x",
			headers: []string{"Authorization", "Bearer " + h.token, "Last-Event-ID", "0"},
			status:  400, code: 1002, msg: seqMsg},
		{name: "Last-Event-ID beyond the newest change", path: changes + "/stream",
			headers: []string{"Authorization", "Bearer " + h.token, "Last-Event-ID", "1000000"},
			status:  400, code: 1002,
			msg: "the Last-Event-ID header: after 1000000 is beyond the newest change"},
		{name: "after beyond the newest change", path: changes + "/stream?after=1000000",
			status: 400, code: 1002, msg: "after 1000000 is beyond the newest change"},
		{name: "after twice", path: changes + "/stream?after=1&after=2", status: 400,
			code: 1002, msg: "the after query parameter may be given only once"},
	}
	byKey := "/api/v1/accounts/" + h.acct.ID + "/registrations/by-key/"
	keys := []badCase{
		{name: "key not base64", path: byKey + "not!base64", status: 400, code: 1002,
			msg: "key must be URL-safe base64"},
		{name: "key in standard base64 with +", path: byKey + "ab+c", status: 400,
			code: 1002, msg: "key must be URL-safe base64"},
		{name: "key with an encoded slash", path: byKey + "ab%2Fc", status: 400, code: 1002,
			msg: "key must be URL-safe base64"},
		{name: "key with unused bits set", path: byKey + "AB", status: 400, code: 1002,
			msg: "key must be URL-safe base64"},
		{name: "key with a stray padding character", path: byKey + "AAAA=", status: 400,
			code: 1002, msg: "key must be URL-safe base64"},
		{name: "key with an encoded line break", path: byKey + "AAAA%0AAAAA", status: 400,
			code: 1002, msg: "key must be URL-safe base64"},
		{name: "unknown key", path: byKey + strings.Repeat("A", 43), status: 404, code: 1001,
			msg: "no registration holds this key"},
		{name: "unknown key with its padding", path: byKey + strings.Repeat("A", 43) + "=",
			status: 404, code: 1001, msg: "no registration holds this key"},
	}
	audit := h.auditPath("")
	logs := []badCase{
		{name: "per_page zero", path: audit + "per_page=0", status: 400, code: 1002,
			msg: "per_page must be an integer from 1 to 1000"},
		{name: "per_page absurd", path: audit + "per_page=1e9", status: 400, code: 1002,
			msg: "per_page must be an integer from 1 to 1000"},
		{name: "cursor from the registration list", path: audit + "cursor=" + f.regCursor,
			status: 400, code: 1002, msg: badCursor},
		{name: "cursor from another filter", path: audit + "target_type=registration&cursor=" +
			f.auditCursor, status: 400, code: 1002, msg: badCursor},
		{name: "target_id with control characters", path: audit + "target_id=a%00", status: 400,
			code: 1002, msg: "target_id must not contain control characters"},
		{name: "target_id too long", path: audit + "target_id=" + strings.Repeat("a", 257),
			status: 400, code: 1002, msg: "target_id must be at most 256 characters"},
	}
	return map[string][]badCase{
		"GET " + ownRoute + "/changes":        append(feed, queryMistakes(changes)...),
		"GET " + ownRoute + "/changes/stream": append(stream, queryMistakes(changes+"/stream")...),
		"GET " + ownRoute + "/by-key/{key}":   append(keys, queryMistakes(byKey+"AAAA")...),
		"GET /api/v1/accounts/{account_id}/audit": append(logs,
			queryMistakes(strings.TrimSuffix(audit, "?"))...),
	}
}

// verifyCases covers the token verification routes.
func (f *badFixture) verifyCases() map[string][]badCase {
	h := f.h
	user := "/client/v4/user/tokens/verify"
	acct := "/client/v4/accounts/" + h.acct.ID + "/tokens/verify"
	auth := func(v string) []string { return []string{"Authorization", v} }
	cases := func(path string) []badCase {
		return append([]badCase{
			{name: "no credential", path: path, headers: []string{}, status: 400, code: 9106,
				msg: "Missing X-Auth-Key, X-Auth-Email or Authorization headers"},
			{name: "token too short", path: path, headers: auth("Bearer abc"), status: 400,
				code: 6003, msg: "Invalid request headers"},
			{name: "basic auth", path: path, headers: auth("Basic Zm9vOmJhcg=="), status: 400,
				code: 6003, msg: "Invalid request headers"},
			{name: "enrolment key", path: path, headers: auth("Bearer " + h.enrollKey),
				status: 401, code: 1000, msg: "Invalid API Token"},
			{name: "registration token", path: path, headers: auth("Bearer " + f.a.Token),
				status: 401, code: 1000, msg: "Invalid API Token"},
		}, queryMistakes(path)...)
	}
	return map[string][]badCase{
		"GET " + user: cases(user),
		"GET /client/v4/accounts/{account_id}/tokens/verify": append(cases(acct),
			badCase{name: "account id malformed", path: "/client/v4/accounts/ABC/tokens/verify",
				status: 400, code: 7003, msg: notRouted},
			badCase{name: "another account", path: "/client/v4/accounts/" + f.other.acct.ID +
				"/tokens/verify", status: 401, code: 1000, msg: "Invalid API Token"}),
	}
}
