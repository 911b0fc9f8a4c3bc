package httpapi

import (
	"net/http"

	"github.com/warpreg/warpreg/internal/device"
)

// Device settings profiles ("policies"), as Cloudflare's devices/policy endpoints
// serve them. The default profile lives at .../devices/policy, a custom one at
// .../devices/policy/{policy_id}; each has include, exclude and fallback_domains
// lists below it.

// policyLists are the sub-resources of a profile that a PUT replaces whole.
var policyLists = []string{"include", "exclude", "fallback_domains"}

func (a *API) policyRoutes() {
	const acct = "/client/v4/accounts/{account_id}/devices"
	const pol = acct + "/policy"
	// Marked before they are registered: route reads the mark once.
	for _, p := range []string{"POST " + pol, "PATCH " + pol + "/{policy_id}",
		"DELETE " + pol + "/{policy_id}"} {
		a.slow[p] = true // they wait for the re-evaluation of every registration
	}
	a.handle("GET "+acct+"/policies", a.admin(false, a.listPolicies))
	a.handle("GET "+pol, a.admin(false, a.getPolicy))
	a.handle("PATCH "+pol, a.admin(true, a.editDefaultPolicy))
	a.handle("POST "+pol, a.admin(true, a.createPolicy))
	a.handle("GET "+pol+"/{policy_id}", a.admin(false, a.getPolicy))
	a.handle("PATCH "+pol+"/{policy_id}", a.admin(true, a.editPolicy))
	a.handle("DELETE "+pol+"/{policy_id}", a.admin(true, a.deletePolicy))
	for _, list := range policyLists {
		a.handle("GET "+pol+"/"+list, a.admin(false, a.getPolicyList(list)))
		a.handle("PUT "+pol+"/"+list, a.admin(true, a.putPolicyList(list)))
		a.handle("GET "+pol+"/{policy_id}/"+list, a.admin(false, a.getPolicyList(list)))
		a.handle("PUT "+pol+"/{policy_id}/"+list, a.admin(true, a.putPolicyList(list)))
	}
}

// policyID returns the path's policy id: "" for the default profile's paths. A
// malformed id answers as an unknown route, as a malformed registration id does.
// These routes take no query parameters, and refuse any.
func (a *API) policyID(w http.ResponseWriter, r *http.Request) (id string, ok bool) {
	id = r.PathValue("policy_id")
	if id != "" && !device.ValidID(id) {
		writeNoRoute(w, r.URL.Path)
		return "", false
	}
	if _, err := strictParams(r); err != nil {
		a.writeError(w, r, err)
		return "", false
	}
	return id, true
}

// profile reads the profile the path names.
func (a *API) profile(r *http.Request, accountID, id string) (*device.Profile, error) {
	if id == "" {
		return a.svc.DefaultProfile(r.Context(), accountID)
	}
	return a.svc.CustomProfile(r.Context(), accountID, id)
}

// editProfile applies edit to the profile the path names.
func (a *API) editProfile(
	r *http.Request, accountID, id string, edit device.ProfileEdit,
) (*device.Profile, error) {
	if id == "" {
		return a.svc.EditDefaultProfile(r.Context(), accountID, edit)
	}
	return a.svc.EditProfile(r.Context(), accountID, id, edit)
}

func (a *API) listPolicies(w http.ResponseWriter, r *http.Request, accountID string) {
	if _, err := strictParams(r); err != nil {
		a.writeError(w, r, err)
		return
	}
	ps, err := a.svc.Profiles(r.Context(), accountID)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writePolicies(w, ps)
}

func writePolicies(w http.ResponseWriter, ps []device.Profile) {
	out := make([]settingsPolicyJSON, len(ps))
	for i := range ps {
		out[i] = toSettingsPolicyJSON(&ps[i])
	}
	writeResult(w, http.StatusOK, out, nil)
}

func (a *API) getPolicy(w http.ResponseWriter, r *http.Request, accountID string) {
	id, ok := a.policyID(w, r)
	if !ok {
		return
	}
	p, err := a.profile(r, accountID, id)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeResult(w, http.StatusOK, toSettingsPolicyJSON(p), nil)
}

func (a *API) createPolicy(w http.ResponseWriter, r *http.Request, accountID string) {
	var body policyBody
	if err := a.decodeBody(w, r, &body, false); err != nil {
		a.writeClientError(w, r, err)
		return
	}
	if err := body.required(); err != nil {
		a.writeError(w, r, err)
		return
	}
	p, err := a.svc.CreateProfile(r.Context(), accountID, body.edit())
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeResult(w, http.StatusOK, toSettingsPolicyJSON(p), nil)
}

func (a *API) editPolicy(w http.ResponseWriter, r *http.Request, accountID string) {
	id, ok := a.policyID(w, r)
	if !ok {
		return
	}
	var body policyBody
	if err := a.decodeBody(w, r, &body, false); err != nil {
		a.writeClientError(w, r, err)
		return
	}
	p, err := a.svc.EditProfile(r.Context(), accountID, id, body.edit())
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeResult(w, http.StatusOK, toSettingsPolicyJSON(p), nil)
}

func (a *API) editDefaultPolicy(w http.ResponseWriter, r *http.Request, accountID string) {
	var body settingsBody
	if err := a.decodeBody(w, r, &body, false); err != nil {
		a.writeClientError(w, r, err)
		return
	}
	edit := func(p *device.Profile) error { return body.apply(&p.Settings) }
	p, err := a.svc.EditDefaultProfile(r.Context(), accountID, edit)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeResult(w, http.StatusOK, toSettingsPolicyJSON(p), nil)
}

// deletePolicy answers with the profiles that remain, as Cloudflare's does.
func (a *API) deletePolicy(w http.ResponseWriter, r *http.Request, accountID string) {
	id, ok := a.policyID(w, r)
	if !ok {
		return
	}
	ps, err := a.svc.DeleteProfile(r.Context(), accountID, id)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writePolicies(w, ps)
}

func (a *API) getPolicyList(list string) adminHandler {
	return func(w http.ResponseWriter, r *http.Request, accountID string) {
		id, ok := a.policyID(w, r)
		if !ok {
			return
		}
		p, err := a.profile(r, accountID, id)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		writeResult(w, http.StatusOK, policyList(p, list), nil)
	}
}

// putPolicyList replaces one list of a profile. Putting a split tunnel list also
// puts the profile in that list's mode.
func (a *API) putPolicyList(list string) adminHandler {
	return func(w http.ResponseWriter, r *http.Request, accountID string) {
		id, ok := a.policyID(w, r)
		if !ok {
			return
		}
		var edit device.ProfileEdit
		if list == "fallback_domains" {
			var domains []fallbackDomainJSON
			if err := a.decodeBody(w, r, &domains, false); err != nil {
				a.writeClientError(w, r, err)
				return
			}
			edit = func(p *device.Profile) error {
				p.Settings.FallbackDomains = fromDomainsJSON(domains)
				return nil
			}
		} else {
			var routes []routeJSON
			if err := a.decodeBody(w, r, &routes, false); err != nil {
				a.writeClientError(w, r, err)
				return
			}
			body := settingsBody{Exclude: &routes}
			if list == "include" {
				body = settingsBody{Include: &routes}
			}
			edit = func(p *device.Profile) error { return body.apply(&p.Settings) }
		}
		p, err := a.editProfile(r, accountID, id, edit)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		writeResult(w, http.StatusOK, policyList(p, list), nil)
	}
}

// policyList returns one of p's lists in its wire form.
func policyList(p *device.Profile, list string) any {
	switch list {
	case "include":
		return toRoutesJSON(p.Settings.Include)
	case "exclude":
		return toRoutesJSON(p.Settings.Exclude)
	default:
		return toDomainsJSON(p.Settings.FallbackDomains)
	}
}
