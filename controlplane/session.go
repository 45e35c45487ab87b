package controlplane

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"time"
)

// Role is what a participant may do in a session's room. Each role maps to the least
// LiveKit grant that lets it do its job (see controlplane/livekit).
type Role string

const (
	RoleTrainee    Role = "trainee"    // joins, publishes camera and microphone, subscribes
	RoleInstructor Role = "instructor" // a trainee's rights, plus admin of this one room and data messages
	RoleObserver   Role = "observer"   // hidden, subscribes only
	RoleSimEngine  Role = "sim-engine" // service identity: data messages only
	RoleAgent      Role = "agent"      // service identity: data messages; dispatched as a LiveKit agent
)

// Roles lists every role.
var Roles = []Role{RoleTrainee, RoleInstructor, RoleObserver, RoleSimEngine, RoleAgent}

// ParseRole validates a role name.
func ParseRole(s string) (Role, error) {
	for _, r := range Roles {
		if string(r) == s {
			return r, nil
		}
	}
	return "", fmt.Errorf("unknown role %q; allowed: %s", s, roleList())
}

func roleList() string {
	s := make([]string, len(Roles))
	for i, r := range Roles {
		s[i] = string(r)
	}
	return strings.Join(s, ", ")
}

// Session states. A session is stored only once its room exists (the row and the room are
// created together or not at all), so there is no "creating" or "failed" state.
const (
	SessionActive = "active"
	SessionEnded  = "ended"
)

// Session limits.
const (
	MinSessionDuration     = 60        // seconds
	MaxSessionDuration     = 12 * 3600 // seconds
	DefaultSessionDuration = 3600      // seconds, when max_duration is left out
	MaxSessionParticipants = 100       // declared at creation plus minted later; also the room's limit
	MaxIdentityLen         = 128
)

var (
	identityRE  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.:@-]*$`)
	scenarioRE  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$`)
	sessionIDRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
)

// Session is one simulation run: a LiveKit room on the org's own cluster and the
// participants tokens were issued for.
type Session struct {
	ID           string         `json:"id"`
	OrgSlug      string         `json:"org"`
	Room         string         `json:"room"`
	Scenario     string         `json:"scenario"`
	State        string         `json:"state"`
	EndReason    string         `json:"end_reason,omitempty"`
	LiveKitURL   string         `json:"livekit_url"`
	Region       string         `json:"region"`
	MaxDuration  int            `json:"max_duration"` // seconds
	CreatedAt    time.Time      `json:"created_at"`
	ExpiresAt    time.Time      `json:"expires_at"`
	EndedAt      *time.Time     `json:"ended_at,omitempty"`
	Participants []*Participant `json:"participants"`

	// Where the room lives; never shown to clients.
	OrgID     string `json:"-"`
	ClusterID string `json:"-"`
}

// Participant is an identity a token was issued for. Token is set only in the response
// that minted it.
type Participant struct {
	Identity       string     `json:"identity"`
	Name           string     `json:"name,omitempty"`
	Role           Role       `json:"role"`
	CreatedAt      time.Time  `json:"created_at"`
	Token          string     `json:"token,omitempty"`
	TokenExpiresAt *time.Time `json:"token_expires_at,omitempty"`
}

// ParticipantCreate names a participant and their role.
type ParticipantCreate struct {
	Identity string `json:"identity"`
	Name     string `json:"name"`
	Role     string `json:"role"`
}

// SessionCreate is what an org sends to start a session.
type SessionCreate struct {
	Scenario     string              `json:"scenario"`
	Participants []ParticipantCreate `json:"participants"`
	MaxDuration  *int                `json:"max_duration"` // seconds
}

// SessionFilter selects a page of an org's sessions, newest first.
type SessionFilter struct {
	State string     // "" for any
	From  *time.Time // created at or after
	To    *time.Time // created before
	// After is the last session of the previous page (its creation time and id).
	AfterTime *time.Time
	AfterID   string
	Limit     int
}

// SessionService runs sessions on the org's own LiveKit.
type SessionService interface {
	// CreateSession creates the room on the org's cluster and stores the session, both or
	// neither, and returns it with one token per participant.
	CreateSession(ctx context.Context, orgSlug string, sc SessionCreate) (*Session, error)
	FindSession(ctx context.Context, orgSlug, id string) (*Session, error)
	// FindSessions returns a page of sessions and whether more follow.
	FindSessions(ctx context.Context, orgSlug string, f SessionFilter) ([]*Session, bool, error)
	// CreateToken mints a token for one more participant of a live session (or a fresh
	// token for one already there, in the same role).
	CreateToken(ctx context.Context, orgSlug, id string, pc ParticipantCreate) (*Participant, *Session, error)
	// EndSession closes the room and stops the meter. Ending an ended session is a no-op.
	EndSession(ctx context.Context, orgSlug, id string) (*Session, error)
}

// WebhookResult says what a verified webhook did.
type WebhookResult struct {
	Event   string `json:"event"`
	ID      string `json:"id"`
	Outcome string `json:"outcome"` // applied, duplicate or ignored
	Reason  string `json:"reason,omitempty"`
}

// Webhook outcomes.
const (
	WebhookApplied   = "applied"
	WebhookDuplicate = "duplicate"
	WebhookIgnored   = "ignored"
)

// WebhookService receives LiveKit webhooks.
type WebhookService interface {
	// ReceiveWebhook verifies a webhook (the JWT in its Authorization header, signed with
	// a registered cluster's key, and the body's checksum in it) and applies its event at
	// most once. A forged or tampered webhook is EUNAUTHORIZED.
	ReceiveWebhook(ctx context.Context, authorization string, body []byte) (*WebhookResult, error)
}

// SessionNotFound is the one answer for a session that does not exist or is not the
// caller's org's.
func SessionNotFound(id string) error {
	return Errorf(ENOTFOUND, "session %q not found", id)
}

// ValidSessionID reports whether id has the shape of a session id (a malformed id is a
// plain 404, never a query).
func ValidSessionID(id string) bool { return sessionIDRE.MatchString(id) }

// ValidIdentity checks a participant identity: 1-128 letters, digits, '_', '.', ':', '@'
// or '-', starting with a letter or digit.
func ValidIdentity(s string) error {
	switch {
	case s == "":
		return fmt.Errorf("identity is required")
	case len(s) > MaxIdentityLen:
		return fmt.Errorf("identity must be at most %d characters", MaxIdentityLen)
	case !identityRE.MatchString(s):
		return fmt.Errorf("identity %q must be letters, digits, '_', '.', ':', '@' or '-', starting with a letter or digit", s)
	}
	return nil
}

// Validate checks one participant; prefix names its place in the request ("participants[2]").
func (pc ParticipantCreate) validate(v *Validation, prefix string) {
	v.Check(prefix+"identity", ValidIdentity(pc.Identity))
	if pc.Name != "" {
		v.Check(prefix+"name", ValidName(pc.Name))
	}
	if pc.Role == "" {
		v.Add(prefix+"role", "role is required; allowed: %s", roleList())
	} else if _, err := ParseRole(pc.Role); err != nil {
		v.Check(prefix+"role", err)
	}
}

// Validate checks a participant of a token request.
func (pc ParticipantCreate) Validate() error {
	var v Validation
	pc.validate(&v, "")
	return v.Err()
}

// Validate checks every field of sc and reports all bad ones at once.
func (sc SessionCreate) Validate() error {
	var v Validation
	if sc.Scenario == "" {
		v.Add("scenario", "scenario is required")
	} else if !scenarioRE.MatchString(sc.Scenario) {
		v.Add("scenario", "scenario %q must be 1-100 letters, digits, '_', '.' or '-', starting with a letter or digit", sc.Scenario)
	}
	switch n := len(sc.Participants); {
	case n == 0:
		v.Add("participants", "at least one participant is required")
	case n > MaxSessionParticipants:
		v.Add("participants", "at most %d participants, got %d", MaxSessionParticipants, n)
	default:
		seen := map[string]int{}
		for i, p := range sc.Participants {
			prefix := fmt.Sprintf("participants[%d].", i)
			p.validate(&v, prefix)
			if j, dup := seen[p.Identity]; dup && p.Identity != "" {
				v.Add(prefix+"identity", "identity %q is already used by participants[%d]", p.Identity, j)
			} else {
				seen[p.Identity] = i
			}
		}
	}
	if d := sc.MaxDuration; d != nil && (*d < MinSessionDuration || *d > MaxSessionDuration) {
		v.Add("max_duration", "max_duration is in seconds, from %d to %d, got %d", MinSessionDuration, MaxSessionDuration, *d)
	}
	return v.Err()
}

// Duration returns the session's maximum duration.
func (sc SessionCreate) Duration() time.Duration {
	if sc.MaxDuration == nil {
		return DefaultSessionDuration * time.Second
	}
	return time.Duration(*sc.MaxDuration) * time.Second
}

// LiveKit webhook events the meter applies.
const (
	EventRoomStarted                  = "room_started"
	EventRoomFinished                 = "room_finished"
	EventParticipantJoined            = "participant_joined"
	EventParticipantLeft              = "participant_left"
	EventParticipantConnectionAborted = "participant_connection_aborted"
)

// MeterEvent is a verified LiveKit webhook event, reduced to what the meter needs.
type MeterEvent struct {
	ID             string
	Event          string
	Room           string
	RoomSID        string
	ParticipantSID string
	Identity       string
	JoinedAt       time.Time // participant events: when the participant joined
	At             time.Time // when the event happened
}
