package httpapi_test

import "strings"

// The bad-input cases of Cloudflare's deprecated /devices routes and of the
// override codes.

const legacyRoute = "/client/v4/accounts/{account_id}/devices"

func (f *badFixture) legacyPath(suffix string) string {
	return "/client/v4/accounts/" + f.h.acct.ID + "/devices" + suffix
}

func (f *badFixture) legacyCases() map[string][]badCase {
	one := f.legacyPath("/" + f.a.ID)
	codes := f.h.regsPath("/" + f.a.ID + "/override_codes")
	out := map[string][]badCase{
		"GET " + legacyRoute: append(queryMistakes(f.legacyPath("")),
			badCase{name: "a page", path: f.legacyPath("?page=2"), status: 400, code: 1002,
				msg: `unknown query parameter "page"`}),
		"GET " + legacyRoute + "/{device_id}": f.legacyIDMistakes(""),
		"GET " + legacyRoute + "/{device_id}/{sub}": append(f.legacyIDMistakes("/override_codes"),
			badCase{name: "another sub-resource", path: one + "/settings", status: 400,
				code: 7003, msg: notRouted},
			badCase{name: "override codes in upper case", path: one + "/OVERRIDE_CODES",
				status: 400, code: 7003, msg: notRouted}),
		"GET " + regsRoute + "/{registration_id}/override_codes": append(
			pathTricks(codes), append(queryMistakes(codes),
				badCase{name: "id not a uuid", path: f.h.regsPath("/hw-a/override_codes"),
					status: 400, code: 7003, msg: notRouted},
				badCase{name: "unknown id", path: f.h.regsPath("/" + f.missing + "/override_codes"),
					status: 404, code: 1001, msg: "registration " + f.missing + " not found"},
				badCase{name: "another account's id",
					path: f.h.regsPath("/" + f.theirs.ID + "/override_codes"), status: 404,
					code: 1001, msg: "registration " + f.theirs.ID + " not found"},
			)...),
	}
	for _, op := range []string{"revoke", "unrevoke"} {
		out["POST "+legacyRoute+"/"+op] = f.legacyBulkMistakes(f.legacyPath("/" + op))
	}
	return out
}

// legacyIDMistakes are the mistakes of a deprecated device path; suffix follows
// the device id.
func (f *badFixture) legacyIDMistakes(suffix string) []badCase {
	one := f.legacyPath("/" + f.a.ID + suffix)
	cs := []badCase{
		{name: "id not a uuid", path: f.legacyPath("/hw-a" + suffix), status: 400, code: 7003,
			msg: notRouted},
		{name: "unknown id", path: f.legacyPath("/" + f.missing + suffix), status: 404,
			code: 1001, msg: f.missing + " not found"},
		{name: "another account's id", path: f.legacyPath("/" + f.theirs.ID + suffix),
			status: 404, code: 1001, msg: f.theirs.ID + " not found"},
		{name: "a physical device's id in a multi-user account", status: 400, code: 1002,
			path: "/client/v4/accounts/" + f.multi.acct.ID + "/devices/" + f.multiReg.ID +
				suffix,
			headers: bearerHeader(f.multi.token),
			msg:     "the deprecated /devices endpoints are not"},
	}
	cs = append(cs, queryMistakes(one)...)
	return append(cs, pathTricks(one)...)
}

// legacyBulkMistakes are the mistakes of a deprecated revoke or unrevoke, whose
// body is a JSON array of device ids.
func (f *badFixture) legacyBulkMistakes(path string) []badCase {
	bad := func(name string, body any, msg string) badCase {
		return badCase{name: name, path: path, body: body, status: 400, code: 1002, msg: msg}
	}
	return append([]badCase{
		bad("empty list", `[]`, "an empty list never means all devices"),
		bad("null", `null`, "the body must list at least one device id"),
		bad("no body", "", "a JSON array of device ids is required as the request body"),
		bad("over 200 ids", manyIDs(201),
			"at most 200 device ids may be given in one call, not 201"),
		bad("an object", map[string]any{"id": []string{f.a.ID}},
			"it must be a JSON array of device id strings"),
		bad("numbers", `[1]`, "it must be a JSON array of device id strings"),
		bad("a comma-joined string", `["`+f.a.ID+`,`+f.b.ID+`"]`, "is not a valid"),
		bad("id not a uuid", `["hw-a"]`, `"hw-a" is not a valid`),
		bad("two arrays", `["`+f.a.ID+`"] []`, "request body must hold exactly one JSON array"),
		bad("malformed JSON", `["`, "request body is not valid: malformed JSON"),
		bad("not UTF-8", "[\""+f.a.ID+"\xff\"]", "request body is not valid UTF-8"),
		{name: "ids in the query", path: path + "?id=" + f.a.ID, body: []string{f.a.ID},
			status: 400, code: 1002, msg: `unknown query parameter "id"`},
		{name: "one unknown id", path: path, body: []string{f.a.ID, f.missing}, status: 404,
			code: 1001, msg: f.missing + " not found"},
		{name: "another account's id", path: path, body: []string{f.a.ID, f.theirs.ID},
			status: 404, code: 1001, msg: f.theirs.ID + " not found"},
		{name: "over the size limit", path: path,
			body: `["` + strings.Repeat("a", 1<<20) + `"]`, status: 413, code: 1005,
			msg: "request body must be at most 1048576 bytes"},
	}, queryMistakes(path)...)
}
