package httpapi

import (
	"context"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/warpreg/warpreg/internal/device"
)

// The physical device endpoints: Cloudflare's /devices/physical-devices, the
// DeviceDeviceService of its SDK. Their query strings are parsed strictly: an
// unknown parameter is refused rather than ignored, since ignoring a misspelt
// filter would widen the selection without saying so.

// deviceListParams are the single-valued parameters of list devices; id repeats.
var deviceListParams = []string{"active_registrations", "cursor", "include",
	"last_seen_user.email", "per_page", "search", "seen_after", "seen_before", "sort_by",
	"sort_order"}

func (a *API) listDevices(w http.ResponseWriter, r *http.Request, accountID string) {
	v, err := parseQuery(r)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	q, cursor, withPolicy, err := parseDeviceListQuery(v)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	fp := deviceQueryFingerprint(accountID, &q)
	if cursor != "" {
		if q.After, err = a.cursors.decode(fp, cursor); err != nil {
			a.writeError(w, r, err)
			return
		}
	}
	page, err := a.svc.ListDevices(r.Context(), accountID, q)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	perPage := q.Limit
	if perPage == 0 {
		perPage = device.DefaultPerPage
	}
	writeDevices(w, page.Devices, true, withPolicy, &resultInfo{
		Count: len(page.Devices), Cursor: a.cursors.encode(fp, page.Next),
		PerPage: perPage, TotalCount: totalCount(page.Total),
	})
}

func (a *API) getDevice(w http.ResponseWriter, r *http.Request, accountID string) {
	id, ok := devicePathID(w, r)
	if !ok {
		return
	}
	v, err := strictParams(r, "include")
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	withPolicy, err := parseDeviceInclude(v.Get("include"))
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	d, err := a.svc.Device(r.Context(), accountID, id)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeDevices(w, []device.Device{*d}, false, withPolicy, nil)
}

func (a *API) deleteDevice(w http.ResponseWriter, r *http.Request, accountID string) {
	a.deviceAction(w, r, accountID, a.svc.DeleteDevice)
}

func (a *API) revokeDevice(w http.ResponseWriter, r *http.Request, accountID string) {
	a.deviceAction(w, r, accountID, a.svc.RevokeDevice)
}

// deviceAction runs fn on the device the path names. Like the registration
// endpoints, it answers with a null result, which the SDK's nullable
// DeviceDeviceDeleteResponse and DeviceDeviceRevokeResponse accept.
func (a *API) deviceAction(w http.ResponseWriter, r *http.Request, accountID string,
	fn func(ctx context.Context, accountID, id string) error,
) {
	id, ok := devicePathID(w, r)
	if !ok {
		return
	}
	if _, err := strictParams(r); err != nil {
		a.writeError(w, r, err)
		return
	}
	if err := fn(r.Context(), accountID, id); err != nil {
		a.writeError(w, r, err)
		return
	}
	writeResult(w, http.StatusOK, nil, nil)
}

// devicePathID returns the device id of the path, answering a malformed one as an
// unroutable path, as the registration endpoints do.
func devicePathID(w http.ResponseWriter, r *http.Request) (string, bool) {
	id := r.PathValue("device_id")
	if !device.ValidID(id) {
		writeNoRoute(w, r.URL.Path)
		return "", false
	}
	return id, true
}

// strictParams parses the query string strictly and returns its named
// single-valued parameters, refusing any other.
func strictParams(r *http.Request, names ...string) (url.Values, error) {
	v, err := parseQuery(r)
	if err != nil {
		return nil, err
	}
	if err := onlyParams(v, names...); err != nil {
		return nil, err
	}
	return singleValues(v, names...)
}

// onlyParams refuses a parameter of v that is not among names, with a hint for the
// PHP-style name[] spelling of a known one.
func onlyParams(v url.Values, names ...string) error {
	for _, n := range slices.Sorted(maps.Keys(v)) {
		if slices.Contains(names, n) {
			continue
		}
		if base, ok := strings.CutSuffix(n, "[]"); ok && slices.Contains(names, base) {
			return invalid("use %s=<value> once per value, not %s[]=", base, base)
		}
		return invalid("unknown query parameter %q", n)
	}
	return nil
}

func parseDeviceListQuery(
	v url.Values,
) (q device.DeviceListQuery, cursor string, withPolicy bool, err error) {
	if err := onlyParams(v, append([]string{"id"}, deviceListParams...)...); err != nil {
		return q, "", false, err
	}
	single, err := singleValues(v, deviceListParams...)
	if err != nil {
		return q, "", false, err
	}
	if q.IDs, err = multiValues(v, "id"); err != nil {
		return q, "", false, err
	}
	if withPolicy, err = parseDeviceInclude(single.Get("include")); err != nil {
		return q, "", false, err
	}
	q.WithPolicy = withPolicy
	if _, given := v["per_page"]; given {
		n, err := strconv.Atoi(single.Get("per_page"))
		if err != nil || n < 1 || n > device.MaxPerPage {
			return q, "", false, invalid("per_page must be an integer from 1 to %d",
				device.MaxPerPage)
		}
		q.Limit = n
	}
	switch order := single.Get("sort_order"); order {
	case "", "asc":
	case "desc":
		q.Desc = true
	default:
		return q, "", false, invalid("sort_order must be asc or desc")
	}
	if q.SeenAfter, err = parseTime("seen_after", single.Get("seen_after")); err != nil {
		return q, "", false, err
	}
	if q.SeenBefore, err = parseBefore(single.Get("seen_before")); err != nil {
		return q, "", false, err
	}
	q.Active = device.ActiveFilter(single.Get("active_registrations"))
	if q.Active == "" {
		q.Active = device.ActiveOnly
	}
	q.Sort = device.DeviceSortField(single.Get("sort_by"))
	if q.Sort == "" {
		q.Sort = device.DeviceSortByID
	}
	q.LastSeenUserEmail = strings.ToLower(strings.TrimSpace(single.Get("last_seen_user.email")))
	q.Search = single.Get("search")
	return q, single.Get("cursor"), withPolicy, nil
}

// parseDeviceInclude reads include, a comma-separated list in which Cloudflare
// documents one value for devices.
func parseDeviceInclude(s string) (bool, error) {
	if s == "" {
		return false, nil
	}
	for _, part := range strings.Split(s, ",") {
		if strings.TrimSpace(part) != "last_seen_registration.policy" {
			return false, invalid("include supports only \"last_seen_registration.policy\"")
		}
	}
	return true, nil
}
