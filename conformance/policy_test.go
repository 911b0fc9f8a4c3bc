package conformance

import (
	"net/http"
	"slices"
	"testing"

	"github.com/cloudflare/cloudflare-go/v6"
	"github.com/cloudflare/cloudflare-go/v6/option"
	"github.com/cloudflare/cloudflare-go/v6/zero_trust"
	"github.com/google/go-cmp/cmp"
)

// newProfile creates a custom profile of A through the SDK.
func newProfile(t *testing.T, c *cloudflare.Client, tn *tenant, name, match string,
	precedence float64,
) *zero_trust.SettingsPolicy {
	t.Helper()
	p, err := c.ZeroTrust.Devices.Policies.Custom.New(testContext(t),
		zero_trust.DevicePolicyCustomNewParams{
			AccountID: cloudflare.F(tn.accountID), Name: cloudflare.F(name),
			Match: cloudflare.F(match), Precedence: cloudflare.F(precedence),
		})
	mustSucceed(t, err, "create profile "+name)
	if !uuidPattern.MatchString(p.PolicyID) || p.Name != name || p.Match != match ||
		p.Precedence != precedence || p.Default || !p.Enabled {
		t.Fatalf("created profile %+v, want a UUID and what was sent, enabled", p)
	}
	return p
}

// setPrecedence moves a custom profile of A to a new precedence.
func setPrecedence(t *testing.T, c *cloudflare.Client, tn *tenant, id string, precedence float64) {
	t.Helper()
	p, err := c.ZeroTrust.Devices.Policies.Custom.Edit(testContext(t), id,
		zero_trust.DevicePolicyCustomEditParams{
			AccountID: cloudflare.F(tn.accountID), Precedence: cloudflare.F(precedence),
		})
	mustSucceed(t, err, "edit profile precedence")
	if p.Precedence != precedence {
		t.Fatalf("edit precedence: got %v, want %v", p.Precedence, precedence)
	}
}

// TestPolicyDefault drives the default profile's endpoints.
func TestPolicyDefault(t *testing.T) {
	t.Parallel()
	tn := newTenant(t, false)
	c := tn.client(t)
	ctx, acc := testContext(t), cloudflare.F(tn.accountID)
	pol := c.ZeroTrust.Devices.Policies.Default

	got, err := pol.Get(ctx, zero_trust.DevicePolicyDefaultGetParams{AccountID: acc})
	mustSucceed(t, err, "get default profile")
	if !got.Default || !got.Enabled || !uuidPattern.MatchString(got.PolicyID) ||
		got.CaptivePortal != 180 || !got.AllowedToLeave || got.ServiceModeV2.Mode != "warp" ||
		got.TunnelProtocol != "wireguard" || len(got.Exclude) == 0 ||
		len(got.FallbackDomains) == 0 {
		t.Errorf("default profile = %+v, want Cloudflare's defaults", got)
	}

	edited, err := pol.Edit(ctx, zero_trust.DevicePolicyDefaultEditParams{
		AccountID: acc, SwitchLocked: cloudflare.F(true), AutoConnect: cloudflare.F(300.0),
		SupportURL: cloudflare.F("https://help.example.com"),
		ServiceModeV2: cloudflare.F(zero_trust.DevicePolicyDefaultEditParamsServiceModeV2{
			Mode: cloudflare.F("proxy"), Port: cloudflare.F(40000.0)}),
	})
	mustSucceed(t, err, "edit default profile")
	if !edited.SwitchLocked || edited.AutoConnect != 300 || edited.ServiceModeV2.Port != 40000 ||
		edited.SupportURL != "https://help.example.com" || edited.PolicyID != got.PolicyID {
		t.Errorf("edited default profile = %+v", edited)
	}
	again, err := pol.Get(ctx, zero_trust.DevicePolicyDefaultGetParams{AccountID: acc})
	mustSucceed(t, err, "get default profile again")
	if again.JSON.RawJSON() != edited.JSON.RawJSON() {
		t.Errorf("GET after PATCH differs:\n%s\n%s", again.JSON.RawJSON(), edited.JSON.RawJSON())
	}

	excl, err := pol.Excludes.Update(ctx, zero_trust.DevicePolicyDefaultExcludeUpdateParams{
		AccountID: acc, Body: []zero_trust.SplitTunnelExcludeUnionParam{
			zero_trust.SplitTunnelExcludeParam{Address: cloudflare.F("192.168.0.0/16"),
				Description: cloudflare.F("home")},
			zero_trust.SplitTunnelExcludeParam{Host: cloudflare.F("printer.local")},
		}})
	mustSucceed(t, err, "put default exclude")
	gotExcl, err := pol.Excludes.Get(ctx,
		zero_trust.DevicePolicyDefaultExcludeGetParams{AccountID: acc})
	mustSucceed(t, err, "get default exclude")
	for _, list := range [][]zero_trust.SplitTunnelExclude{excl.Result, gotExcl.Result} {
		if len(list) != 2 || list[0].Address != "192.168.0.0/16" || list[0].Description != "home" ||
			list[1].Host != "printer.local" {
			t.Errorf("default exclude = %+v", list)
		}
	}

	incl, err := pol.Includes.Update(ctx, zero_trust.DevicePolicyDefaultIncludeUpdateParams{
		AccountID: acc, Body: []zero_trust.SplitTunnelIncludeUnionParam{
			zero_trust.SplitTunnelIncludeParam{Address: cloudflare.F("10.0.0.0/8")}}})
	mustSucceed(t, err, "put default include")
	gotIncl, err := pol.Includes.Get(ctx,
		zero_trust.DevicePolicyDefaultIncludeGetParams{AccountID: acc})
	mustSucceed(t, err, "get default include")
	for _, list := range [][]zero_trust.SplitTunnelInclude{incl.Result, gotIncl.Result} {
		if len(list) != 1 || list[0].Address != "10.0.0.0/8" {
			t.Errorf("default include = %+v", list)
		}
	}
	inMode, err := pol.Get(ctx, zero_trust.DevicePolicyDefaultGetParams{AccountID: acc})
	mustSucceed(t, err, "get default profile in include mode")
	if len(inMode.Include) != 1 || !inMode.JSON.Exclude.IsMissing() {
		t.Errorf("after PUT include the profile shows include %+v, exclude %s; want include",
			inMode.Include, inMode.JSON.Exclude.Raw())
	}

	domains := []zero_trust.FallbackDomainParam{{Suffix: cloudflare.F("corp.example"),
		Description: cloudflare.F("HQ"), DNSServer: cloudflare.F([]string{"10.0.0.53"})}}
	fb, err := pol.FallbackDomains.Update(ctx,
		zero_trust.DevicePolicyDefaultFallbackDomainUpdateParams{AccountID: acc, Domains: domains})
	mustSucceed(t, err, "put default fallback domains")
	gotFB, err := pol.FallbackDomains.Get(ctx,
		zero_trust.DevicePolicyDefaultFallbackDomainGetParams{AccountID: acc})
	mustSucceed(t, err, "get default fallback domains")
	for _, list := range [][]zero_trust.FallbackDomain{fb.Result, gotFB.Result} {
		if len(list) != 1 || list[0].Suffix != "corp.example" || list[0].Description != "HQ" ||
			!slices.Equal(list[0].DNSServer, []string{"10.0.0.53"}) {
			t.Errorf("default fallback domains = %+v", list)
		}
	}
}

// TestPolicyCustom drives the custom profile endpoints and their refusals.
func TestPolicyCustom(t *testing.T) {
	t.Parallel()
	tn := newTenant(t, false)
	c := tn.client(t)
	ctx, acc := testContext(t), cloudflare.F(tn.accountID)
	custom := c.ZeroTrust.Devices.Policies.Custom

	p, err := custom.New(ctx, zero_trust.DevicePolicyCustomNewParams{
		AccountID: acc, Name: cloudflare.F("Field staff"), Precedence: cloudflare.F(100.0),
		Match:       cloudflare.F(`identity.email == "ann@example.com" or os.name == "ios"`),
		Description: cloudflare.F("laptops on the road"), AllowModeSwitch: cloudflare.F(true),
		LANAllowMinutes: cloudflare.F(30.0), LANAllowSubnetSize: cloudflare.F(24.0),
		TunnelProtocol: cloudflare.F("masque"), Enabled: cloudflare.F(true),
		Include: cloudflare.F([]zero_trust.SplitTunnelIncludeUnionParam{
			zero_trust.SplitTunnelIncludeParam{Host: cloudflare.F("*.corp.example")}}),
	})
	mustSucceed(t, err, "create custom profile")
	if p.Description != "laptops on the road" || !p.AllowModeSwitch || p.LANAllowMinutes != 30 ||
		p.LANAllowSubnetSize != 24 || p.TunnelProtocol != "masque" || len(p.Include) != 1 ||
		p.Include[0].Host != "*.corp.example" || p.GatewayUniqueID == "" || p.TargetTests == nil {
		t.Errorf("created profile = %+v", p)
	}

	got, err := custom.Get(ctx, p.PolicyID, zero_trust.DevicePolicyCustomGetParams{AccountID: acc})
	mustSucceed(t, err, "get custom profile")
	if got.JSON.RawJSON() != p.JSON.RawJSON() {
		t.Errorf("GET differs from POST:\n%s\n%s", got.JSON.RawJSON(), p.JSON.RawJSON())
	}
	edited, err := custom.Edit(ctx, p.PolicyID, zero_trust.DevicePolicyCustomEditParams{
		AccountID: acc, Name: cloudflare.F("Road warriors"), Enabled: cloudflare.F(false)})
	mustSucceed(t, err, "edit custom profile")
	if edited.Name != "Road warriors" || edited.Enabled || edited.Description != p.Description {
		t.Errorf("edited profile = %+v, want only name and enabled changed", edited)
	}

	list, err := custom.List(ctx, zero_trust.DevicePolicyCustomListParams{AccountID: acc})
	mustSucceed(t, err, "list profiles")
	if len(list.Result) != 2 || !list.Result[0].Default || list.Result[1].PolicyID != p.PolicyID {
		t.Errorf("list = %+v, want the default then the custom profile", list.Result)
	}

	lists := customLists(t, c, tn, p.PolicyID)
	if lists.include != 1 || lists.exclude == 0 || lists.fallback != 1 {
		t.Errorf("custom lists after PUTs: %+v", lists)
	}
	refusals(t, c, tn, p.PolicyID)

	remaining, err := custom.Delete(ctx, p.PolicyID,
		zero_trust.DevicePolicyCustomDeleteParams{AccountID: acc})
	mustSucceed(t, err, "delete custom profile")
	if len(remaining.Result) != 1 || !remaining.Result[0].Default {
		t.Errorf("delete returned %+v, want only the default profile", remaining.Result)
	}
	_, err = custom.Get(ctx, p.PolicyID, zero_trust.DevicePolicyCustomGetParams{AccountID: acc})
	wantCode(t, wantAPIError(t, err, http.StatusNotFound), 1001)
}

type listSizes struct{ include, exclude, fallback int }

// customLists puts and reads back the lists of a custom profile.
func customLists(t *testing.T, c *cloudflare.Client, tn *tenant, id string) listSizes {
	t.Helper()
	ctx, acc := testContext(t), cloudflare.F(tn.accountID)
	custom := c.ZeroTrust.Devices.Policies.Custom
	_, err := custom.Includes.Update(ctx, id, zero_trust.DevicePolicyCustomIncludeUpdateParams{
		AccountID: acc, Body: []zero_trust.SplitTunnelIncludeUnionParam{
			zero_trust.SplitTunnelIncludeParam{Address: cloudflare.F("10.8.0.0/16"),
				Description: cloudflare.F("lab")}}})
	mustSucceed(t, err, "put custom include")
	_, err = custom.Excludes.Update(ctx, id, zero_trust.DevicePolicyCustomExcludeUpdateParams{
		AccountID: acc, Body: []zero_trust.SplitTunnelExcludeUnionParam{
			zero_trust.SplitTunnelExcludeParam{Host: cloudflare.F("zoom.us")}}})
	mustSucceed(t, err, "put custom exclude")
	_, err = custom.FallbackDomains.Update(ctx, id,
		zero_trust.DevicePolicyCustomFallbackDomainUpdateParams{AccountID: acc,
			Domains: []zero_trust.FallbackDomainParam{{Suffix: cloudflare.F("lan")}}})
	mustSucceed(t, err, "put custom fallback domains")

	incl, err := custom.Includes.Get(ctx, id,
		zero_trust.DevicePolicyCustomIncludeGetParams{AccountID: acc})
	mustSucceed(t, err, "get custom include")
	excl, err := custom.Excludes.Get(ctx, id,
		zero_trust.DevicePolicyCustomExcludeGetParams{AccountID: acc})
	mustSucceed(t, err, "get custom exclude")
	fb, err := custom.FallbackDomains.Get(ctx, id,
		zero_trust.DevicePolicyCustomFallbackDomainGetParams{AccountID: acc})
	mustSucceed(t, err, "get custom fallback domains")
	if len(incl.Result) != 1 || incl.Result[0].Address != "10.8.0.0/16" ||
		len(excl.Result) != 1 || excl.Result[0].Host != "zoom.us" || fb.Result[0].Suffix != "lan" {
		t.Errorf("custom lists read back: include %+v exclude %+v fallback %+v",
			incl.Result, excl.Result, fb.Result)
	}
	return listSizes{len(incl.Result), len(excl.Result), len(fb.Result)}
}

// refusals checks the errors of the custom profile endpoints.
func refusals(t *testing.T, c *cloudflare.Client, tn *tenant, id string) {
	t.Helper()
	ctx, acc := testContext(t), cloudflare.F(tn.accountID)
	custom := c.ZeroTrust.Devices.Policies.Custom
	_, err := custom.New(ctx, zero_trust.DevicePolicyCustomNewParams{AccountID: acc,
		Name: cloudflare.F("Bad"), Match: cloudflare.F(`os.name ==`),
		Precedence: cloudflare.F(5.0)})
	wantCode(t, wantAPIError(t, err, http.StatusBadRequest), 1002)
	_, err = custom.New(ctx, zero_trust.DevicePolicyCustomNewParams{AccountID: acc,
		Name: cloudflare.F("Same"), Match: cloudflare.F(`os.name == "mac"`),
		Precedence: cloudflare.F(100.0)})
	wantCode(t, wantAPIError(t, err, http.StatusConflict), 1003)

	unknown := "00000000-0000-4000-8000-000000000000"
	_, err = custom.Get(ctx, unknown, zero_trust.DevicePolicyCustomGetParams{AccountID: acc})
	wantCode(t, wantAPIError(t, err, http.StatusNotFound), 1001)
	other := newClient(t, tn.srv, option.WithAPIToken(tn.otherToken.Value))
	_, err = other.ZeroTrust.Devices.Policies.Custom.Get(ctx, id,
		zero_trust.DevicePolicyCustomGetParams{AccountID: cloudflare.F(tn.otherID)})
	wantCode(t, wantAPIError(t, err, http.StatusNotFound), 1001)

	readOnly := newClient(t, tn.srv, option.WithAPIToken(tn.readOnly.Value))
	_, err = readOnly.ZeroTrust.Devices.Policies.Custom.Get(ctx, id,
		zero_trust.DevicePolicyCustomGetParams{AccountID: acc})
	mustSucceed(t, err, "read-only get")
	_, err = readOnly.ZeroTrust.Devices.Policies.Custom.Edit(ctx, id,
		zero_trust.DevicePolicyCustomEditParams{AccountID: acc, Name: cloudflare.F("x")})
	wantAPIError(t, err, http.StatusForbidden)
}

func wantCode(t *testing.T, e *cloudflare.Error, code int64) {
	t.Helper()
	if e != nil && (len(e.Errors) == 0 || e.Errors[0].Code != code) {
		t.Errorf("error codes %+v, want %d first", e.Errors, code)
	}
}

// TestPolicyAssignment creates three profiles with overlapping rules, enrols
// devices that match different ones, reorders and deletes profiles, and checks
// every registration's policy after each step.
func TestPolicyAssignment(t *testing.T) {
	t.Parallel()
	tn := newTenant(t, false)
	c := tn.client(t)

	eng := newProfile(t, c, tn, "Engineering",
		`any(identity.groups.name[*] in {"engineering"})`, 10)
	macs := newProfile(t, c, tn, "Macs", `os.name == "mac"`, 20)
	ann := newProfile(t, c, tn, "Ann", `identity.email == "ann@example.com"`, 30)
	def, err := c.ZeroTrust.Devices.Policies.Default.Get(testContext(t),
		zero_trust.DevicePolicyDefaultGetParams{AccountID: cloudflare.F(tn.accountID)})
	mustSucceed(t, err, "get default profile")

	device := func(name, email, group, osName string) string {
		req := wireguardDevice(t, name, email, name)
		req.User.Groups, req.Device.DeviceType = []string{group}, osName
		return tn.enroll(t, req).ID
	}
	regs := map[string]string{
		"ann":  device("ann", "ann@example.com", "engineering", "mac"),
		"bob":  device("bob", "bob@example.com", "engineering", "linux"),
		"carl": device("carl", "carl@example.com", "sales", "mac"),
		"dora": device("dora", "dora@example.com", "sales", "windows"),
		"erin": device("erin", "erin@example.com", "engineering", "mac"),
	}
	names := map[string]string{eng.PolicyID: "Engineering", macs.PolicyID: "Macs",
		ann.PolicyID: "Ann", def.PolicyID: "Default"}
	stamps := map[string]string{}
	// expect checks where each registration is after a step; those in changed moved,
	// and only their policy.updated_at may differ from the step before.
	expect := func(step string, want map[string]string, changed ...string) {
		t.Helper()
		for who, id := range regs {
			p := getRegistration(t, c, tn, id, true).Policy
			if p == nil {
				t.Fatalf("%s: %s has no policy", step, who)
			}
			if p.ID != want[who] || p.Name != names[want[who]] || p.Deleted ||
				p.Default != (want[who] == def.PolicyID) {
				t.Errorf("%s: %s is on %+v, want %s (%s)", step, who, *p, want[who],
					names[want[who]])
			}
			prev, seen := stamps[who]
			if seen && (prev != p.UpdatedAt) != slices.Contains(changed, who) {
				t.Errorf("%s: %s's policy.updated_at went from %s to %s", step, who, prev,
					p.UpdatedAt)
			}
			stamps[who] = p.UpdatedAt
		}
	}
	expect("enrolled", map[string]string{"ann": eng.PolicyID, "bob": eng.PolicyID,
		"carl": macs.PolicyID, "dora": def.PolicyID, "erin": eng.PolicyID})

	setPrecedence(t, c, tn, ann.PolicyID, 5)
	expect("Ann first", map[string]string{"ann": ann.PolicyID, "bob": eng.PolicyID,
		"carl": macs.PolicyID, "dora": def.PolicyID, "erin": eng.PolicyID}, "ann")

	setPrecedence(t, c, tn, eng.PolicyID, 99)
	setPrecedence(t, c, tn, macs.PolicyID, 10)
	setPrecedence(t, c, tn, eng.PolicyID, 20)
	expect("Macs before Engineering", map[string]string{"ann": ann.PolicyID, "bob": eng.PolicyID,
		"carl": macs.PolicyID, "dora": def.PolicyID, "erin": macs.PolicyID}, "erin")

	a := newAdmin(tn, c)
	mustSucceed(t, a.delete(t, regs["carl"]), "delete carl's registration")
	carl := regs["carl"]
	delete(regs, "carl")
	remaining, err := c.ZeroTrust.Devices.Policies.Custom.Delete(testContext(t), macs.PolicyID,
		zero_trust.DevicePolicyCustomDeleteParams{AccountID: cloudflare.F(tn.accountID)})
	mustSucceed(t, err, "delete Macs")
	var left []string
	for _, p := range remaining.Result {
		left = append(left, p.Name)
	}
	if diff := cmp.Diff([]string{"Default", "Ann", "Engineering"}, left); diff != "" {
		t.Errorf("profiles left after deleting Macs (-want +got):\n%s", diff)
	}
	expect("Macs deleted", map[string]string{"ann": ann.PolicyID, "bob": eng.PolicyID,
		"dora": def.PolicyID, "erin": eng.PolicyID}, "erin")
	if p := getRegistration(t, c, tn, carl, true).Policy; p == nil || p.ID != macs.PolicyID ||
		!p.Deleted {
		t.Errorf("carl's deleted registration shows %+v, want the deleted Macs profile", p)
	}
}
