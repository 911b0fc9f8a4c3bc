package httpapi_test

import (
	"strings"

	"github.com/warpreg/warpreg/internal/device"
)

// The bad-input cases of the enrolment API: enrolment, and a registration's own
// update, heartbeat and token roll.

// bodyMistakes are the JSON mistakes any body can hold. field names a string field
// of the body, used to build a body over the size limit.
func bodyMistakes(path, field string, required bool) []badCase {
	cs := []badCase{
		{name: "malformed JSON", path: path, body: `{"device":`, status: 400, code: 1002,
			msg: "request body is not valid: malformed JSON"},
		{name: "JSON with a syntax error", path: path, body: `{"device" {}}`, status: 400,
			code: 1002, msg: "request body is not valid: malformed JSON at byte"},
		{name: "an array", path: path, body: `[]`, status: 400, code: 1002,
			msg: "it must be a JSON object"},
		{name: "a string", path: path, body: `"x"`, status: 400, code: 1002,
			msg: "it must be a JSON object"},
		{name: "two objects", path: path, body: `{} {}`, status: 400, code: 1002,
			msg: "request body must hold exactly one JSON value"},
		{name: "unknown field", path: path, body: `{"bogus":1}`, status: 400, code: 1002,
			msg: `unknown field "bogus"`},
		{name: "field in the wrong case", path: path, body: `{"Bogus":1}`, status: 400,
			code: 1002, msg: `unknown field "Bogus"`},
		{name: "over the size limit", path: path,
			body:   `{"` + field + `":"` + strings.Repeat("a", 1<<20) + `"}`,
			status: 413, code: 1005, msg: "request body must be at most 1048576 bytes"},
		{name: "not UTF-8", path: path, body: "{\"" + field + "\":\"\xff\xfe\"}", status: 400,
			code: 1002, msg: "request body is not valid UTF-8"},
		{name: "half a surrogate pair escaped", path: path,
			body: `{"` + field + `":"\ud800"}`, status: 400, code: 1002,
			msg: "a \\u escape names half of a UTF-16 surrogate pair"},
		{name: "raw control character in a string", path: path,
			body: "{\"" + field + "\":\"a\tb\"}", status: 400, code: 1002, msg: "malformed JSON"},
	}
	if required {
		cs = append(cs, badCase{name: "no body", path: path, body: "", status: 400, code: 1002,
			msg: "a JSON request body is required"})
	}
	return append(cs, queryMistakes(path)...)
}

// enrollBody returns a valid enrolment with a fresh key, changed by edit.
func enrollBody(edit func(b, dev, user map[string]any)) map[string]any {
	dev := map[string]any{"name": "laptop", "hardware_id": "hw-new"}
	user := map[string]any{"email": "new@example.com", "name": "New", "groups": []string{"g"}}
	b := map[string]any{"key": wgKey(), "key_type": "curve25519", "device": dev, "user": user}
	edit(b, dev, user)
	return b
}

func (f *badFixture) enrollCases() map[string][]badCase {
	path := enrollRoute
	bad := func(name string, edit func(b, dev, user map[string]any), msg string) badCase {
		return badCase{name: name, path: path, body: enrollBody(edit), status: 400, code: 1002,
			msg: msg}
	}
	cs := []badCase{
		{name: "null", path: path, body: `null`, status: 400, code: 1002,
			msg: "device and user are required"},
		bad("no device", func(b, _, _ map[string]any) { delete(b, "device") },
			"device and user are required"),
		bad("no user", func(b, _, _ map[string]any) { b["user"] = nil },
			"device and user are required"),
		bad("no key", func(b, _, _ map[string]any) { delete(b, "key") },
			"curve25519 key must be 32 bytes, got 0"),
		bad("no key_type", func(b, _, _ map[string]any) { delete(b, "key_type") },
			"key_type must be curve25519 or secp256r1"),
		bad("key a number", func(b, _, _ map[string]any) { b["key"] = 5 },
			"field key must be a JSON string"),
		bad("device a string", func(b, _, _ map[string]any) { b["device"] = "laptop" },
			"field device must be a JSON object"),
		bad("groups a string", func(_, _, u map[string]any) { u["groups"] = "eng" },
			"field user.groups must be a JSON array"),
		bad("a group a number", func(_, _, u map[string]any) { u["groups"] = []any{1} },
			"field user.groups must be a JSON"),
		bad("key in URL-safe base64", func(b, _, _ map[string]any) {
			b["key"] = strings.NewReplacer("+", "-", "/", "_").Replace(wgKey()) + "_-"
		}, "key is not valid standard base64"),
		bad("key too short", func(b, _, _ map[string]any) { b["key"] = "AAAA" },
			"curve25519 key must be 32 bytes, got 3"),
		bad("key with a line break", func(b, _, _ map[string]any) {
			k := wgKey()
			b["key"] = k[:20] + "\n" + k[20:]
		}, "key is not valid standard base64"),
		bad("tunnel_type against key_type", func(b, _, _ map[string]any) {
			b["tunnel_type"] = "masque"
		}, "key_type curve25519 does not go with tunnel_type masque"),
		bad("no device name", func(_, d, _ map[string]any) { delete(d, "name") },
			"device.name is required"),
		bad("device name only spaces", func(_, d, _ map[string]any) { d["name"] = "   " },
			"device.name is required"),
		bad("no email", func(_, _, u map[string]any) { delete(u, "email") },
			`"" is not a valid email address`),
		bad("email with a display name", func(_, _, u map[string]any) {
			u["email"] = "New <new@example.com>"
		}, "is not a valid email address"),
		bad("email over 90 characters", func(_, _, u map[string]any) {
			u["email"] = strings.Repeat("a", 79) + "@example.com"
		}, "is not a valid email address"),
		bad("user name too long", func(_, _, u map[string]any) {
			u["name"] = strings.Repeat("n", 257)
		}, "user.name must be at most 256 characters"),
		bad("user name with escape", func(_, _, u map[string]any) { u["name"] = "a\x1bb" },
			"user.name must not contain control characters"),
		bad("over 100 groups", func(_, _, u map[string]any) { u["groups"] = manyIDs(101) },
			"user.groups may hold at most 100 names"),
		bad("group too long", func(_, _, u map[string]any) {
			u["groups"] = []string{strings.Repeat("g", 257)}
		}, "user.groups must be at most 256 characters"),
		bad("empty group", func(_, _, u map[string]any) { u["groups"] = []string{"a", ""} },
			"user.groups must not hold empty names"),
		bad("device_type unknown", func(_, d, _ map[string]any) { d["device_type"] = "macOS" },
			"device.device_type must be one of"),
		bad("device name with NUL", func(_, d, _ map[string]any) { d["name"] = "a\x00b" },
			"device.name must not contain control characters"),
		bad("hardware id with a line break", func(_, d, _ map[string]any) {
			d["hardware_id"] = "hw\nnew"
		}, "device.hardware_id must not contain control characters"),
		{name: "another registration's key", path: path, status: 409, code: 1003,
			body: enrollBody(func(b, _, _ map[string]any) { b["key"] = f.aKey }),
			msg:  "this public key is already registered"},
	}
	for _, fact := range []string{"name", "model", "manufacturer", "device_type",
		"os_version", "os_version_extra", "serial_number", "hardware_id", "mac_address",
		"client_version"} {
		cs = append(cs, bad("device "+fact+" too long", func(_, d, _ map[string]any) {
			d[fact] = strings.Repeat("x", 257)
		}, "device."+fact+" must be at most 256 characters"))
	}
	unauthorized := func(name string, headers []string, msg string) badCase {
		return badCase{name: name, path: path, body: enrollBody(func(_, _, _ map[string]any) {}),
			headers: headers, status: 401, code: 10000, msg: msg}
	}
	unknownKey := "enrollment key is unknown, used up or expired"
	cs = append(cs,
		unauthorized("no enrolment key", []string{},
			"one Authorization: Bearer header with an enrollment key is required"),
		unauthorized("the enrolment key twice",
			append(bearerHeader(f.h.enrollKey), bearerHeader(f.h.enrollKey)...),
			"one Authorization: Bearer header with an enrollment key is required"),
		unauthorized("unknown enrolment key", bearerHeader(strings.Repeat("A", 40)), unknownKey),
		unauthorized("an API token", bearerHeader(f.h.token), unknownKey),
		unauthorized("a registration token", bearerHeader(f.a.Token), unknownKey),
	)
	cs = append(cs, bodyMistakes(path, "key", true)...)
	return map[string][]badCase{"POST " + enrollRoute: cs}
}

func bearerHeader(secret string) []string {
	return []string{"Authorization", "Bearer " + secret}
}

// clientCases covers the routes a registration calls with its own token.
func (f *badFixture) clientCases() map[string][]badCase {
	self := enrollRoute + "/" + f.a.ID
	auth := func(path, body string) []badCase {
		denied := "registration token is not valid"
		return append([]badCase{
			{name: "no token", path: path, body: body, headers: []string{}, status: 401,
				code: 10000, msg: "one Authorization: Bearer header with the registration's token"},
			{name: "another registration's token", path: path, body: body,
				headers: bearerHeader(f.b.Token), status: 401, code: 10000, msg: denied},
			{name: "an API token", path: path, body: body, headers: bearerHeader(f.h.token),
				status: 401, code: 10000, msg: denied},
			{name: "id not a uuid", path: strings.Replace(path, f.a.ID, "hw-a", 1), body: body,
				status: 401, code: 10000, msg: denied},
			{name: "unknown id", path: strings.Replace(path, f.a.ID, device.NewID(), 1),
				body: body, status: 401, code: 10000, msg: denied},
		}, pathTricks(path)...)
	}
	patch := []badCase{
		{name: "key_type without a key", path: self, body: `{"key_type":"secp256r1"}`,
			status: 400, code: 1002, msg: "a new key_type needs a new key"},
		{name: "key not base64", path: self, body: `{"key":"not a key"}`, status: 400,
			code: 1002, msg: "key is not valid standard base64"},
		{name: "tunnel_type unknown", path: self, body: `{"tunnel_type":"ipsec"}`,
			status: 400, code: 1002, msg: "tunnel_type must be wireguard or masque"},
		{name: "another registration's key", path: self,
			body: `{"key":"` + f.bKey + `"}`, status: 409, code: 1003,
			msg: "this public key is already registered"},
		{name: "hardware_id changed", path: self,
			body: `{"device":{"hardware_id":"hw-other"}}`, status: 400, code: 1002,
			msg: "device.hardware_id cannot change"},
		{name: "hardware_id of another device", path: self,
			body: `{"device":{"hardware_id":"hw-b"}}`, status: 400, code: 1002,
			msg: "device.hardware_id cannot change"},
		{name: "device name too long", path: self,
			body: `{"device":{"name":"` + strings.Repeat("x", 257) + `"}}`, status: 400,
			code: 1002, msg: "device.name must be at most 256 characters"},
		{name: "device name with NUL", path: self, body: `{"device":{"name":"a\u0000"}}`,
			status: 400, code: 1002, msg: "device.name must not contain control characters"},
		{name: "key a number", path: self, body: `{"key":1}`, status: 400, code: 1002,
			msg: "field key must be a JSON string"},
	}
	patch = append(patch, bodyMistakes(self, "key", true)...)
	beat := self + "/heartbeat"
	heartbeat := []badCase{
		{name: "client_version too long", path: beat,
			body: `{"client_version":"` + strings.Repeat("1", 257) + `"}`, status: 400,
			code: 1002, msg: "client_version must be at most 256 characters"},
		{name: "client_version with escape", path: beat, body: `{"client_version":"1\u001b"}`,
			status: 400, code: 1002, msg: "client_version must not contain control characters"},
		{name: "client_version a number", path: beat, body: `{"client_version":2025}`,
			status: 400, code: 1002, msg: "field client_version must be a JSON string"},
	}
	heartbeat = append(heartbeat, bodyMistakes(beat, "client_version", false)...)
	token := self + "/token"
	return map[string][]badCase{
		"PATCH " + enrollRoute + "/{id}":          append(patch, auth(self, `{}`)...),
		"POST " + enrollRoute + "/{id}/heartbeat": append(heartbeat, auth(beat, "")...),
		"POST " + enrollRoute + "/{id}/token": append(append(bodyMistakes(token, "x", false),
			badCase{name: "a token in the body", path: token, body: `{"token":"x"}`,
				status: 400, code: 1002, msg: `unknown field "token"`}),
			auth(token, "")...),
	}
}
