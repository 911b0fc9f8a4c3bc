package httpapi

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/warpreg/warpreg/internal/device"
)

func (a *API) getRegistration(w http.ResponseWriter, r *http.Request, accountID string) {
	id := r.PathValue("registration_id")
	if !device.ValidID(id) {
		writeNoRoute(w, r.URL.Path)
		return
	}
	withPolicy, err := getParams(r)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	reg, err := a.svc.Registration(r.Context(), accountID, id)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeRegistrations(w, []device.Registration{*reg}, false, withPolicy, nil)
}

// getParams reads a registration get's query: include=policy or nothing.
func getParams(r *http.Request) (withPolicy bool, err error) {
	switch r.URL.RawQuery { // the two queries of nearly every get, without parsing
	case "":
		return false, nil
	case "include=policy":
		return true, nil
	}
	q, err := strictParams(r, "include")
	if err != nil {
		return false, err
	}
	return parseInclude(q.Get("include"))
}

// getRegistrationFast serves a registration get that carries an API token from one
// store read, which checks the token and reads the row together (most gets, and the
// hottest admin call). Whatever that read cannot answer (another kind of credential,
// an unknown or foreign token, no such registration, a malformed id) goes to slow,
// the ordinary admin handler, which tells those cases apart and answers exactly as
// it always has; the one read is all a get that succeeds costs.
func (a *API) getRegistrationFast(slow http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		accountID, id := r.PathValue("account_id"), r.PathValue("registration_id")
		token, _, _, status, _ := parseAuthHeaders(r.Header)
		if token == "" || status != 0 || !device.ValidAccountID(accountID) ||
			!device.ValidID(id) {
			slow.ServeHTTP(w, r)
			return
		}
		if a.refuseFailing(w, r) {
			return
		}
		p, reg, found, err := a.svc.RegistrationForToken(r.Context(), token, accountID, id)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		if !found {
			slow.ServeHTTP(w, r)
			return
		}
		if !a.allowCredential(w, adminKey(p)) {
			return
		}
		// A get writes nothing, so it needs no actor: only the token's scope is checked.
		if err := p.Authorize(accountID, false); err != nil {
			a.writeError(w, r, err)
			return
		}
		withPolicy, err := getParams(r)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		writeRegistrations(w, []device.Registration{*reg}, false, withPolicy, nil)
	})
}

func (a *API) listRegistrations(w http.ResponseWriter, r *http.Request, accountID string) {
	v, err := parseQuery(r)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	lq, cursor, withPolicy, err := parseListQuery(v)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	fp := queryFingerprint(accountID, &lq)
	if cursor != "" {
		if lq.After, err = a.cursors.decode(fp, cursor); err != nil {
			a.writeError(w, r, err)
			return
		}
	}
	page, err := a.svc.List(r.Context(), accountID, lq)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	perPage := lq.Limit
	if perPage == 0 {
		perPage = device.DefaultPerPage
	}
	writeRegistrations(w, page.Registrations, true, withPolicy, &resultInfo{
		Count: len(page.Registrations), Cursor: a.cursors.encode(fp, page.Next),
		PerPage: perPage, TotalCount: totalCount(page.Total),
	})
}

func (a *API) deleteRegistration(w http.ResponseWriter, r *http.Request, accountID string) {
	id := r.PathValue("registration_id")
	if !device.ValidID(id) {
		writeNoRoute(w, r.URL.Path)
		return
	}
	if _, err := strictParams(r); err != nil {
		a.writeError(w, r, err)
		return
	}
	a.bulk(w, r, accountID, []string{id}, a.svc.Delete)
}

func (a *API) bulkDeleteRegistrations(w http.ResponseWriter, r *http.Request, accountID string) {
	a.bulkFromQuery(w, r, accountID, a.svc.Delete)
}

func (a *API) revokeRegistrations(w http.ResponseWriter, r *http.Request, accountID string) {
	a.bulkFromQuery(w, r, accountID, a.svc.Revoke)
}

func (a *API) unrevokeRegistrations(w http.ResponseWriter, r *http.Request, accountID string) {
	a.bulkFromQuery(w, r, accountID, a.svc.Unrevoke)
}

type bulkFunc func(ctx context.Context, accountID string, ids []string) error

func (a *API) bulkFromQuery(w http.ResponseWriter, r *http.Request, accountID string, fn bulkFunc) {
	v, err := parseQuery(r)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	if err := onlyParams(v, "id"); err != nil {
		a.writeError(w, r, err)
		return
	}
	ids, err := multiValues(v, "id")
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	if len(ids) == 0 {
		a.writeError(w, r, invalid("the id query parameter is required: give each "+
			"registration id to act on as id=<uuid>"))
		return
	}
	a.bulk(w, r, accountID, ids, fn)
}

func (a *API) bulk(w http.ResponseWriter, r *http.Request, accountID string, ids []string, fn bulkFunc) {
	if err := fn(r.Context(), accountID, ids); err != nil {
		a.writeError(w, r, err)
		return
	}
	writeResult(w, http.StatusOK, nil, nil)
}

// listParams are the single-valued parameters of list registrations; id and user.id
// repeat. Like every route's, its query string is parsed strictly: an unknown
// parameter is refused, since ignoring a misspelt filter would widen the selection,
// and ignoring a misspelt id would shrink a bulk call's, without saying so.
var listParams = []string{"cursor", "device.id", "include", "per_page", "search",
	"seen_after", "seen_before", "sort_by", "sort_order", "status"}

func parseListQuery(v url.Values) (q device.ListQuery, cursor string, withPolicy bool, err error) {
	if err := onlyParams(v, append([]string{"id", "user.id"}, listParams...)...); err != nil {
		return q, "", false, err
	}
	single, err := singleValues(v, listParams...)
	if err != nil {
		return q, "", false, err
	}
	if q.IDs, err = multiValues(v, "id"); err != nil {
		return q, "", false, err
	}
	if q.UserIDs, err = multiValues(v, "user.id"); err != nil {
		return q, "", false, err
	}
	if withPolicy, err = parseInclude(single.Get("include")); err != nil {
		return q, "", false, err
	}
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
	q.DeviceID = single.Get("device.id")
	q.Search = single.Get("search")
	q.Status = device.Status(single.Get("status"))
	if q.Status == "" {
		q.Status = device.StatusActive
	}
	q.Sort = device.SortField(single.Get("sort_by"))
	if q.Sort == "" {
		q.Sort = device.SortByID
	}
	return q, single.Get("cursor"), withPolicy, nil
}

// parseQuery parses the query string strictly. url.URL.Query drops what it cannot
// decode, which would silently widen a filter or shrink a bulk call's id list.
func parseQuery(r *http.Request) (url.Values, error) {
	v, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, invalid("the query string is malformed: %s", queryProblem(err))
	}
	return v, nil
}

// queryProblem describes a query parsing error without echoing more than needed.
func queryProblem(err error) string {
	var esc url.EscapeError
	if errors.As(err, &esc) {
		return "invalid percent-encoding " + strconv.Quote(string(esc))
	}
	return "semicolons are not separators; use &"
}

// singleValues returns the named parameters, refusing any that is given twice:
// silently taking the first or last of two values hides a client's bug.
func singleValues(v url.Values, names ...string) (url.Values, error) {
	out := url.Values{}
	for _, n := range names {
		switch vals := v[n]; len(vals) {
		case 0:
		case 1:
			out.Set(n, vals[0])
		default:
			return nil, invalid("the %s query parameter may be given only once", n)
		}
	}
	return out, nil
}

// multiValues returns a repeated parameter's values. Comma-joined lists are split
// too, since ids never contain commas. The PHP-style name[] spelling is refused
// with a hint, as it would otherwise be ignored and widen the selection.
func multiValues(v url.Values, name string) ([]string, error) {
	if _, ok := v[name+"[]"]; ok {
		return nil, invalid("use %s=<value> once per value, not %s[]=", name, name)
	}
	var out []string
	for _, raw := range v[name] {
		for _, s := range strings.Split(raw, ",") {
			if s = strings.TrimSpace(s); s == "" {
				return nil, invalid("the %s query parameter must not be empty", name)
			}
			out = append(out, s)
		}
	}
	return out, nil
}

func parseInclude(s string) (bool, error) {
	if s == "" {
		return false, nil
	}
	policy := false
	for _, part := range strings.Split(s, ",") {
		if strings.TrimSpace(part) != "policy" {
			return false, invalid("include supports only \"policy\"")
		}
		policy = true
	}
	return policy, nil
}

// parseBefore reads seen_before. The zero time, before which nothing was seen, would
// read as the queries' "no bound" and list everything; it is kept as the next instant
// instead, which the columns, in microseconds, do not tell apart from it.
func parseBefore(s string) (time.Time, error) {
	t, err := parseTime("seen_before", s)
	if err == nil && s != "" && t.IsZero() {
		t = t.Add(time.Nanosecond)
	}
	return t, err
}

// parseTime parses an RFC 3339 timestamp. A space where the offset's sign should
// be is a "+" that the query string decoded as a space: say so.
func parseTime(name, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err == nil {
		return t.UTC(), nil
	}
	if strings.Contains(s, " ") {
		return time.Time{}, invalid("%s must be an RFC 3339 timestamp; a + in a query "+
			"string must be written %%2B", name)
	}
	return time.Time{}, invalid("%s must be an RFC 3339 timestamp such as "+
		"2025-02-14T13:17:00Z", name)
}
