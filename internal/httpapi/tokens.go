package httpapi

import (
	"net/http"

	"github.com/warpreg/warpreg/internal/device"
)

// verifyToken answers GET /user/tokens/verify and /accounts/{id}/tokens/verify the
// way Cloudflare does: the token's id and status for a good token, 401 with code
// 1000 otherwise. On the account path a token of another account is not valid.
func (a *API) verifyToken(w http.ResponseWriter, r *http.Request) {
	accountID := r.PathValue("account_id")
	if r.Pattern != "GET /client/v4/user/tokens/verify" && !device.ValidAccountID(accountID) {
		writeNoRoute(w, r.URL.Path)
		return
	}
	token, _, _, status, msg := parseAuthHeaders(r.Header)
	if status != 0 {
		writeErrors(w, status, msg)
		return
	}
	invalidToken := message{Code: codeInvalidToken, Message: "Invalid API Token"}
	if token == "" {
		writeErrors(w, http.StatusUnauthorized, invalidToken)
		return
	}
	if a.refuseFailing(w, r) {
		return
	}
	p, err := a.svc.AuthenticateToken(r.Context(), token)
	if a.failed(w, r, err) {
		return
	}
	if err == nil && !a.allowCredential(w, adminKey(p)) {
		return
	}
	if device.KindOf(err) == device.KindUnauthorized ||
		(err == nil && accountID != "" && p.AccountID != accountID) {
		writeErrors(w, http.StatusUnauthorized, invalidToken)
		return
	}
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeResult(w, http.StatusOK, map[string]string{"id": p.CredentialID, "status": "active"},
		nil, message{Code: 10000, Message: "This API Token is valid and active"})
}
