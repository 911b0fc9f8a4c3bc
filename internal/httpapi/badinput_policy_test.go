package httpapi_test

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/warpreg/warpreg/internal/device"
)

// The bad-input cases of the device settings profile routes: the default profile
// at .../devices/policy, custom ones at .../devices/policy/{policy_id}, and the
// split tunnel and fallback domain lists below each.

// policyPattern returns the pattern of a profile route: suffix follows
// .../devices/policy.
func policyPattern(method, suffix string) string {
	return method + " /client/v4/accounts/{account_id}/devices/policy" + suffix
}

// listBodyMistakes are the JSON mistakes of a body that must be an array.
func listBodyMistakes(path, entry string) []badCase {
	return append([]badCase{
		{name: "an object", path: path, body: `{}`, status: 400, code: 1002,
			msg: "it must be a JSON array"},
		{name: "a string", path: path, body: `"10.0.0.0/8"`, status: 400, code: 1002,
			msg: "it must be a JSON array"},
		{name: "no body", path: path, body: "", status: 400, code: 1002,
			msg: "a JSON request body is required"},
		{name: "malformed JSON", path: path, body: `[{`, status: 400, code: 1002,
			msg: "malformed JSON"},
		{name: "two arrays", path: path, body: `[] []`, status: 400, code: 1002,
			msg: "request body must hold exactly one JSON value"},
		{name: "unknown field in an entry", path: path, body: `[{"bogus":1}]`, status: 400,
			code: 1002, msg: `unknown field "bogus"`},
		{name: "entry a string", path: path, body: `["10.0.0.0/8"]`, status: 400, code: 1002,
			msg: "must be a JSON object"},
		{name: "over the size limit", path: path,
			body:   `[{"description":"` + strings.Repeat("a", 1<<20) + `"}]`,
			status: 413, code: 1005, msg: "request body must be at most 1048576 bytes"},
		{name: "not UTF-8", path: path, body: "[{" + entry + `,"description":"` + "\xff\"}]",
			status: 400, code: 1002, msg: "request body is not valid UTF-8"},
	}, queryMistakes(path)...)
}

// settingsMistakes are the mistakes of a body that edits a profile's settings. rule
// holds the fields, each followed by a comma, that the body needs besides.
func settingsMistakes(path, rule string) []badCase {
	bad := func(name, fields, msg string) badCase {
		return badCase{name: name, path: path, body: "{" + rule + fields[1:], status: 400,
			code: 1002, msg: msg}
	}
	many := make([]map[string]string, 1001)
	for i := range many {
		many[i] = map[string]string{"address": fmt.Sprintf("10.%d.%d.0/24", i/256, i%256)}
	}
	tooMany, _ := json.Marshal(map[string]any{"exclude": many})
	return []badCase{
		bad("auto_connect negative", `{"auto_connect":-1}`,
			"auto_connect must be a whole number from 0 to 86400"),
		bad("auto_connect fractional", `{"auto_connect":1.5}`,
			"auto_connect must be a whole number"),
		bad("auto_connect a string", `{"auto_connect":"600"}`,
			"field auto_connect must be a JSON number"),
		bad("captive_portal absurd", `{"captive_portal":1e300}`,
			"captive_portal must be a whole number"),
		bad("lan_allow_subnet_size too small", `{"lan_allow_subnet_size":7}`,
			"lan_allow_subnet_size must be a whole number from 8 to 32"),
		bad("allow_updates a string", `{"allow_updates":"true"}`,
			"field allow_updates must be a JSON boolean"),
		bad("service mode unknown", `{"service_mode_v2":{"mode":"vpn"}}`,
			"service_mode_v2.mode must be one of"),
		bad("proxy mode without a port", `{"service_mode_v2":{"mode":"proxy"}}`,
			"service_mode_v2.port is required in proxy mode"),
		bad("proxy port too big", `{"service_mode_v2":{"mode":"proxy","port":70000}}`,
			"service_mode_v2.port must be a whole number from 0 to 65535"),
		bad("tunnel_protocol unknown", `{"tunnel_protocol":"ipsec"}`,
			"tunnel_protocol must be wireguard or masque"),
		bad("support_url a script", `{"support_url":"javascript:alert(1)"}`,
			"support_url must be an http, https or mailto URL"),
		bad("support_url too long", `{"support_url":"https://example.com/`+
			strings.Repeat("a", 2030)+`"}`, "support_url must be at most 2048 characters"),
		bad("include and exclude together", `{"include":[],"exclude":[]}`,
			"exclude and include cannot both be set in one request"),
		bad("include prefix too long", `{"include":[{"address":"10.0.0.0/33"}]}`,
			"include[0].address must be an IP address or a CIDR prefix"),
		bad("include entry empty", `{"include":[{"description":"x"}]}`,
			"include[0] needs an address or a host"),
		bad("include entry both", `{"include":[{"address":"10.0.0.1","host":"a.example"}]}`,
			"include[0] may have an address or a host, not both"),
		bad("exclude host with a space", `{"exclude":[{"host":"exa mple.com"}]}`,
			"exclude[0].host must be a domain name"),
		bad("exclude repeated", `{"exclude":[{"host":"a.example"},{"host":"A.example"}]}`,
			"exclude[1] repeats an earlier entry"),
		bad("exclude description too long", `{"exclude":[{"host":"a.example","description":"`+
			strings.Repeat("d", 1001)+`"}]}`, "exclude[0].description must be at most 1000"),
		bad("over 1000 exclude entries", string(tooMany),
			"exclude may hold at most 1000 entries"),
	}
}

// policyFixture adds two custom profiles to the fixture's account and one to the
// other account, and returns their ids.
func (f *badFixture) policyFixture() (first, second, theirs string) {
	h := f.h
	first = h.createPolicy("First", `identity.email == "a@example.com"`, 10).PolicyID
	second = h.createPolicy("Second", `identity.email == "b@example.com"`, 20).PolicyID
	other := &harness{t: h.t, api: h.api, svc: h.svc, db: h.db, acct: f.other.acct,
		token: f.other.token}
	theirs = other.createPolicy("Theirs", `identity.email == "t@example.com"`, 10).PolicyID
	return first, second, theirs
}

func (f *badFixture) policyCases() map[string][]badCase {
	h := f.h
	def := h.policyPath("")
	custom := h.policyPath("/" + f.firstPolicy)
	out := map[string][]badCase{
		"GET /client/v4/accounts/{account_id}/devices/policies": queryMistakes(
			"/client/v4/accounts/" + h.acct.ID + "/devices/policies"),
		policyPattern("GET", ""): append(queryMistakes(def), pathTricks(def)...),
		policyPattern("PATCH", ""): append(append(settingsMistakes(def, ""),
			badCase{name: "a name on the default profile", path: def, body: `{"name":"x"}`,
				status: 400, code: 1002, msg: `unknown field "name"`},
			badCase{name: "a match on the default profile", path: def,
				body: `{"match":"identity.email == \"a@example.com\""}`, status: 400,
				code: 1002, msg: `unknown field "match"`}),
			bodyMistakes(def, "support_url", true)...),
		policyPattern("POST", ""): append(append(f.createMistakes(def),
			settingsMistakes(def, `"name":"New","match":"identity.email == \"n@example.com\"",`+
				`"precedence":30,`)...), bodyMistakes(def, "name", true)...),
		policyPattern("PATCH", "/{policy_id}"): append(append(append(f.editMistakes(custom),
			settingsMistakes(custom, "")...), bodyMistakes(custom, "name", true)...),
			f.policyIDMistakes(custom, "", `{"enabled":false}`)...),
	}
	for _, m := range []string{"GET", "DELETE"} {
		out[policyPattern(m, "/{policy_id}")] = f.policyIDMistakes(custom, "", nil)
	}
	for _, list := range []string{"include", "exclude", "fallback_domains"} {
		out[policyPattern("GET", "/"+list)] = append(queryMistakes(def+"/"+list),
			pathTricks(def+"/"+list)...)
		out[policyPattern("GET", "/{policy_id}/"+list)] = f.policyIDMistakes(custom, "/"+list,
			nil)
		cs := f.listMistakes(def+"/"+list, list)
		out[policyPattern("PUT", "/"+list)] = cs
		out[policyPattern("PUT", "/{policy_id}/"+list)] = append(
			f.listMistakes(custom+"/"+list, list), f.policyIDMistakes(custom, "/"+list, "[]")...)
	}
	return out
}

// policyIDMistakes are the mistakes of a path naming a custom profile; suffix
// follows the profile's id, and body is what the request sends.
func (f *badFixture) policyIDMistakes(custom, suffix string, body any) []badCase {
	h := f.h
	missing := device.NewID()
	cs := []badCase{
		{name: "id not a uuid", path: h.policyPath("/Contractors" + suffix), status: 400,
			code: 7003, msg: notRouted},
		{name: "unknown id", path: h.policyPath("/" + missing + suffix), status: 404,
			code: 1001, msg: "policy " + missing + " not found"},
		{name: "another account's id", path: h.policyPath("/" + f.theirPolicy + suffix),
			status: 404, code: 1001, msg: "policy " + f.theirPolicy + " not found"},
		{name: "a registration's id", path: h.policyPath("/" + f.a.ID + suffix), status: 404,
			code: 1001, msg: "not found"},
	}
	cs = append(cs, queryMistakes(custom+suffix)...)
	cs = append(cs, pathTricks(custom+suffix)...)
	for i := range cs {
		cs[i].body = body
	}
	return cs
}

// createMistakes are the mistakes of a custom profile's rule and names.
func (f *badFixture) createMistakes(path string) []badCase {
	bad := func(name string, edit func(map[string]any), status, code int, msg string) badCase {
		b := map[string]any{"name": "New", "match": `identity.email == "n@example.com"`,
			"precedence": 30}
		edit(b)
		return badCase{name: name, path: path, body: b, status: status, code: code, msg: msg}
	}
	return []badCase{
		bad("no name", func(b map[string]any) { delete(b, "name") }, 400, 1002,
			"name is required"),
		bad("no match", func(b map[string]any) { delete(b, "match") }, 400, 1002,
			"match is required"),
		bad("no precedence", func(b map[string]any) { delete(b, "precedence") }, 400, 1002,
			"precedence is required"),
		bad("name too long", func(b map[string]any) { b["name"] = strings.Repeat("n", 257) },
			400, 1002, "name must be at most 256 characters"),
		bad("name with a line break", func(b map[string]any) { b["name"] = "a\nb" },
			400, 1002, "name must not contain control characters"),
		bad("description too long", func(b map[string]any) {
			b["description"] = strings.Repeat("d", 1001)
		}, 400, 1002, "description must be at most 1000 characters"),
		bad("match too long", func(b map[string]any) {
			b["match"] = `identity.email == "` + strings.Repeat("m", 8192) + `"`
		}, 400, 1002, "match must be at most 8192 characters"),
		bad("match a syntax error", func(b map[string]any) { b["match"] = "identity.email ==" },
			400, 1002, "match is not a valid expression"),
		bad("match with NUL", func(b map[string]any) { b["match"] = "identity.email\x00" },
			400, 1002, "match must not contain control characters"),
		bad("precedence zero", func(b map[string]any) { b["precedence"] = 0 }, 400, 1002,
			"precedence must be a whole number from 1 to 2147483647"),
		bad("precedence negative", func(b map[string]any) { b["precedence"] = -5 }, 400, 1002,
			"precedence must be a whole number from 1 to 2147483647"),
		bad("precedence fractional", func(b map[string]any) { b["precedence"] = 1.5 },
			400, 1002, "precedence must be a whole number"),
		bad("precedence a string", func(b map[string]any) { b["precedence"] = "30" },
			400, 1002, "field precedence must be a JSON number"),
		bad("precedence taken", func(b map[string]any) { b["precedence"] = 10 }, 409, 1003,
			"precedence 10 is already used by policy "+f.firstPolicy),
		bad("enabled a string", func(b map[string]any) { b["enabled"] = "yes" }, 400, 1002,
			"field enabled must be a JSON boolean"),
	}
}

// editMistakes are the mistakes of an edit of a custom profile.
func (f *badFixture) editMistakes(path string) []badCase {
	bad := func(name, body string, status, code int, msg string) badCase {
		return badCase{name: name, path: path, body: body, status: status, code: code, msg: msg}
	}
	return []badCase{
		bad("name emptied", `{"name":""}`, 400, 1002, "name is required"),
		bad("match emptied", `{"match":""}`, 400, 1002, "match is required"),
		bad("match a syntax error", `{"match":"(identity.email"}`, 400, 1002,
			"match is not a valid expression"),
		bad("precedence of another profile", `{"precedence":20}`, 409, 1003,
			"precedence 20 is already used by policy "+f.secondPolicy),
		bad("description with NUL", `{"description":"a\u0000"}`, 400, 1002,
			"description must not contain control characters"),
	}
}

// listMistakes are the mistakes of a PUT of one of a profile's lists.
func (f *badFixture) listMistakes(path, list string) []badCase {
	bad := func(name, body, msg string) badCase {
		return badCase{name: name, path: path, body: body, status: 400, code: 1002, msg: msg}
	}
	if list == "fallback_domains" {
		servers := make([]string, 17)
		for i := range servers {
			servers[i] = fmt.Sprintf("192.0.2.%d", i+1)
		}
		many, _ := json.Marshal([]map[string]any{{"suffix": "corp.example",
			"dns_server": servers}})
		return append([]badCase{
			bad("suffix with a space", `[{"suffix":"corp example"}]`,
				"fallback_domains[0].suffix must be a domain name"),
			bad("suffix empty", `[{"suffix":""}]`,
				"fallback_domains[0].suffix must be a domain name"),
			bad("suffix repeated", `[{"suffix":"corp.example"},{"suffix":"CORP.example"}]`,
				"fallback_domains[1] repeats the suffix"),
			bad("dns_server not an address", `[{"suffix":"corp.example",`+
				`"dns_server":["dns.corp.example"]}]`,
				"fallback_domains[0].dns_server must hold IP addresses"),
			bad("dns_server a string", `[{"suffix":"corp.example","dns_server":"192.0.2.1"}]`,
				"must be a JSON array"),
			bad("over 16 dns servers", string(many),
				"fallback_domains[0].dns_server may hold at most 16 addresses"),
			bad("description too long", `[{"suffix":"corp.example","description":"`+
				strings.Repeat("d", 1001)+`"}]`,
				"fallback_domains[0].description must be at most 1000 characters"),
		}, listBodyMistakes(path, `"suffix":"corp.example"`)...)
	}
	return append([]badCase{
		bad("address not an address", `[{"address":"10.0.0.256"}]`,
			list+"[0].address must be an IP address or a CIDR prefix"),
		bad("host with a slash", `[{"host":"a.example/x"}]`, list+"[0].host must be a domain name"),
		bad("entry with neither", `[{"description":"x"}]`, list+"[0] needs an address or a host"),
		bad("address repeated", `[{"address":"10.0.0.0/8"},{"address":"10.0.0.0/8"}]`,
			list+"[1] repeats an earlier entry"),
	}, listBodyMistakes(path, `"address":"10.0.0.0/8"`)...)
}
