package web

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// The fleet console's login. The admin key is typed into a form and sent in a POST body
// (never in a URL); what the browser keeps is a session cookie signed with a key derived
// from the admin key (so rotating the admin key ends every session), HttpOnly,
// SameSite=Strict and Secure behind TLS. Each form carries a CSRF token bound to the
// session (or, for the login form, to a short-lived login cookie).
const (
	sessionCookie = "cellplane_fleet"
	loginCookie   = "cellplane_login"
	cookiePath    = "/fleet"
	maxFormBytes  = 8 << 10
)

type sessionKeys struct {
	adminKey string
	mac      []byte
}

func newSessionKeys(adminKey string) *sessionKeys {
	m := hmac.New(sha256.New, []byte(adminKey))
	m.Write([]byte("cellplane/web/session/v1"))
	return &sessionKeys{adminKey: adminKey, mac: m.Sum(nil)}
}

func (k *sessionKeys) sign(parts ...string) string {
	m := hmac.New(sha256.New, k.mac)
	m.Write([]byte(strings.Join(parts, "\x00")))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// checkKey compares a typed key with the admin key in constant time (hashing first so
// that not even the length leaks).
func (k *sessionKeys) checkKey(typed string) bool {
	a, b := sha256.Sum256([]byte(typed)), sha256.Sum256([]byte(k.adminKey))
	return hmac.Equal(a[:], b[:])
}

func randomID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// newSession returns a session token "v1.<expiry>.<id>.<signature>" and its id.
func (k *sessionKeys) newSession(now time.Time, ttl time.Duration) (token, id string) {
	id = randomID()
	exp := strconv.FormatInt(now.Add(ttl).Unix(), 10)
	return "v1." + exp + "." + id + "." + k.sign("session", exp, id), id
}

// verifySession returns the id of a valid, unexpired session token.
func (k *sessionKeys) verifySession(token string, now time.Time) (string, bool) {
	parts := strings.Split(token, ".")
	if len(parts) != 4 || parts[0] != "v1" {
		return "", false
	}
	exp, id, sig := parts[1], parts[2], parts[3]
	if !hmac.Equal([]byte(sig), []byte(k.sign("session", exp, id))) {
		return "", false
	}
	t, err := strconv.ParseInt(exp, 10, 64)
	if err != nil || now.Unix() >= t {
		return "", false
	}
	return id, true
}

// csrf is the token a form of purpose carries, bound to id (a session or login cookie).
func (k *sessionKeys) csrf(purpose, id string) string { return k.sign("csrf", purpose, id) }

func (k *sessionKeys) checkCSRF(purpose, id, token string) bool {
	return id != "" && hmac.Equal([]byte(token), []byte(k.csrf(purpose, id)))
}

// secure says whether the browser reached us over TLS, directly or through a proxy
// that terminated it; only then may a cookie be marked Secure.
func secure(r *http.Request) bool {
	return r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}

func setCookie(w http.ResponseWriter, r *http.Request, name, value string, maxAge time.Duration) {
	http.SetCookie(w, &http.Cookie{
		Name: name, Value: value, Path: cookiePath,
		MaxAge: int(maxAge.Seconds()), HttpOnly: true, Secure: secure(r), SameSite: http.SameSiteStrictMode,
	})
}

func clearCookie(w http.ResponseWriter, r *http.Request, name string) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: "", Path: cookiePath, MaxAge: -1,
		HttpOnly: true, Secure: secure(r), SameSite: http.SameSiteStrictMode})
}

func cookieValue(r *http.Request, name string) string {
	c, err := r.Cookie(name)
	if err != nil {
		return ""
	}
	return c.Value
}

// sameOrigin refuses a form post that a browser says came from elsewhere. The CSRF token
// is the real check; this one stops a forged post even before it is read.
func sameOrigin(r *http.Request) bool {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "", "same-origin", "none":
	default:
		return false
	}
	if o := r.Header.Get("Origin"); o != "" {
		u, err := url.Parse(o)
		if err != nil || u.Host != r.Host {
			return false
		}
	}
	return true
}

// adminSession returns the id of the request's valid fleet session.
func (p *Pages) adminSession(r *http.Request) (string, bool) {
	if p.sessions == nil {
		return "", false
	}
	return p.sessions.verifySession(cookieValue(r, sessionCookie), p.d.Now())
}

type loginView struct {
	Title, Nav string
	CSRF       string
	Error      string
	Disabled   bool
}

// showLogin answers with the login form and a fresh login cookie for its CSRF token.
func (p *Pages) showLogin(w http.ResponseWriter, r *http.Request, status int, msg string) {
	w.Header().Set("Cache-Control", "no-store")
	v := loginView{Title: "Fleet: log in", Nav: "fleet", Error: msg}
	if p.sessions == nil {
		v.Disabled = true
		p.render(w, r, p.loginTmpl, http.StatusForbidden, v)
		return
	}
	id := randomID()
	setCookie(w, r, loginCookie, id, time.Hour)
	v.CSRF = p.sessions.csrf("login", id)
	p.render(w, r, p.loginTmpl, status, v)
}

// Login serves POST /fleet/login: the admin key from the form, checked in constant time.
func (p *Pages) Login(w http.ResponseWriter, r *http.Request) {
	if p.sessions == nil {
		p.showLogin(w, r, http.StatusForbidden, "")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if !sameOrigin(r) || r.ParseForm() != nil {
		p.showLogin(w, r, http.StatusForbidden, "The login form must be sent from this page.")
		return
	}
	if !p.sessions.checkCSRF("login", cookieValue(r, loginCookie), r.PostForm.Get("csrf")) {
		p.showLogin(w, r, http.StatusForbidden, "The login form expired. Please try again.")
		return
	}
	if !p.sessions.checkKey(r.PostForm.Get("key")) {
		p.d.Log.WarnContext(r.Context(), "fleet login refused", "remote", r.RemoteAddr)
		p.showLogin(w, r, http.StatusUnauthorized, "That is not the admin key.")
		return
	}
	token, _ := p.sessions.newSession(p.d.Now(), p.d.SessionTTL)
	setCookie(w, r, sessionCookie, token, p.d.SessionTTL)
	clearCookie(w, r, loginCookie)
	p.d.Log.InfoContext(r.Context(), "fleet login", "remote", r.RemoteAddr)
	http.Redirect(w, r, "/fleet", http.StatusSeeOther)
}

// Logout serves POST /fleet/logout.
func (p *Pages) Logout(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	id, ok := p.adminSession(r)
	if !ok || !sameOrigin(r) || r.ParseForm() != nil || !p.sessions.checkCSRF("logout", id, r.PostForm.Get("csrf")) {
		securityHeaders(w)
		http.Error(w, "forbidden: not logged in, or the form was not sent from this site", http.StatusForbidden)
		return
	}
	clearCookie(w, r, sessionCookie)
	http.Redirect(w, r, "/fleet", http.StatusSeeOther)
}
