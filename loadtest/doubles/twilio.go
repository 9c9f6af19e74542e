package main

// The SMS fake: Twilio's Programmable Messaging API, POST
// /2010-04-01/Accounts/{AccountSid}/Messages.json with a form body and HTTP basic authentication,
// answering with Twilio's resource and error shapes and codes.

import (
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

const twilioAPIPrefix = "/2010-04-01/Accounts/"

type twilioDouble struct {
	sid, token         string
	unsubscribedPrefix string
	invalidPrefix      string
}

// twilioError is Twilio's error body.
func twilioError(o outcome, status, code int, message string, header ...[2]string) reply {
	body, _ := json.Marshal(struct {
		Code     int    `json:"code"`
		Message  string `json:"message"`
		MoreInfo string `json:"more_info"`
		Status   int    `json:"status"`
	}{code, message, "https://www.twilio.com/docs/errors/" + strconv.Itoa(code), status})
	return jsonReply(o, status, body, header...)
}

func (t *twilioDouble) failure(kind string, b *behaviour) reply {
	switch kind {
	case kind429:
		return twilioError(outTransient, 429, 20429, "Too Many Requests",
			[2]string{"Retry-After", strconv.Itoa(b.RetryAfterS)})
	case kind500:
		return twilioError(outTransient, 500, 20500, "Internal Server Error")
	}
	return twilioError(outTransient, 503, 20503, "Service Unavailable",
		[2]string{"Retry-After", strconv.Itoa(b.RetryAfterS)})
}

func secretEqual(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// isE164 reports whether s is an E.164 number: +, a non-zero digit, at most 15 digits in all.
func isE164(s string) bool {
	if len(s) < 3 || len(s) > 16 || s[0] != '+' || s[1] < '1' || s[1] > '9' {
		return false
	}
	for i := 2; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// segments is how many SMS segments Twilio bills for body: 160/153 characters in GSM-7 (taken here
// as ASCII), 70/67 in UCS-2.
func segments(body string) int {
	n, single, multi := utf8.RuneCountInString(body), 160, 153
	for i := 0; i < len(body); i++ {
		if body[i] >= 0x80 {
			single, multi = 70, 67
			break
		}
	}
	if n <= single {
		return 1
	}
	return (n + multi - 1) / multi
}

func (t *twilioDouble) serve(x *exchange) reply {
	r := x.r
	rest, ok := strings.CutPrefix(r.URL.Path, twilioAPIPrefix)
	sid, tail, _ := strings.Cut(rest, "/")
	if !ok || tail != "Messages.json" {
		return twilioError(outPermanent, 404, 20404, fmt.Sprintf("The requested resource %s was not found", r.URL.Path))
	}
	if r.Method != http.MethodPost {
		return twilioError(outPermanent, 405, 20004, "Method not allowed", [2]string{"Allow", "POST"})
	}
	if rep, down := x.down(); down {
		return rep
	}
	user, pass, ok := r.BasicAuth()
	if !ok || !secretEqual(user, t.sid) || !secretEqual(pass, t.token) {
		return twilioError(outRejected, 401, 20003, "Authenticate", [2]string{"WWW-Authenticate", `Basic realm="Twilio API"`})
	}
	if sid != t.sid {
		return twilioError(outPermanent, 404, 20404, fmt.Sprintf("The requested resource %s was not found", r.URL.Path))
	}
	// Twilio reads parameters only from a form body; any other body leaves them all missing.
	var form url.Values
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err == nil && mt == "application/x-www-form-urlencoded" {
		form, err = url.ParseQuery(string(x.body))
		if err != nil {
			return twilioError(outPermanent, 400, 20001, "Invalid form body: "+err.Error())
		}
	}
	to, from, service, text := form.Get("To"), form.Get("From"), form.Get("MessagingServiceSid"), form.Get("Body")
	switch {
	case to == "":
		return twilioError(outPermanent, 400, 21604, "A 'To' phone number is required.")
	case from == "" && service == "":
		return twilioError(outPermanent, 400, 21603, "A 'From' or 'MessagingServiceSid' parameter is required to send a message.")
	case text == "" && form.Get("MediaUrl") == "" && form.Get("ContentSid") == "":
		return twilioError(outPermanent, 400, 21602, "Message body is required.")
	case utf8.RuneCountInString(text) > 1600:
		return twilioError(outPermanent, 400, 21617, "The concatenated message body exceeds the 1600 character limit.")
	case !isE164(to):
		return twilioError(outPermanent, 400, 21211, fmt.Sprintf("The 'To' number %s is not a valid phone number.", to))
	}
	id := r.Header.Get(notificationIDHeader)
	if id == "" {
		id = bodyID(x.body)
	}
	if rep, failed := x.inject(id); failed {
		return rep
	}
	if t.unsubscribedPrefix != "" && strings.HasPrefix(to, t.unsubscribedPrefix) {
		return twilioError(outPermanent, 400, 21610, "Attempt to send to unsubscribed recipient")
	}
	if t.invalidPrefix != "" && strings.HasPrefix(to, t.invalidPrefix) {
		return twilioError(outPermanent, 400, 21211, fmt.Sprintf("The 'To' number %s is not a valid phone number.", to))
	}
	x.accept(id, http.StatusCreated)
	return jsonReply(outAccepted, http.StatusCreated, t.message(x.now, to, from, service, text))
}

// twilioMessage is the Message resource Twilio answers a create with.
type twilioMessage struct {
	AccountSID          string            `json:"account_sid"`
	APIVersion          string            `json:"api_version"`
	Body                string            `json:"body"`
	DateCreated         string            `json:"date_created"`
	DateSent            *string           `json:"date_sent"`
	DateUpdated         string            `json:"date_updated"`
	Direction           string            `json:"direction"`
	ErrorCode           *int              `json:"error_code"`
	ErrorMessage        *string           `json:"error_message"`
	From                *string           `json:"from"`
	MessagingServiceSID *string           `json:"messaging_service_sid"`
	NumMedia            string            `json:"num_media"`
	NumSegments         string            `json:"num_segments"`
	Price               *string           `json:"price"`
	PriceUnit           string            `json:"price_unit"`
	SID                 string            `json:"sid"`
	Status              string            `json:"status"`
	SubresourceURIs     map[string]string `json:"subresource_uris"`
	To                  string            `json:"to"`
	URI                 string            `json:"uri"`
}

func (t *twilioDouble) message(now time.Time, to, from, service, text string) []byte {
	msid := "SM" + randomHex(16)
	uri := twilioAPIPrefix + t.sid + "/Messages/" + msid
	date := now.UTC().Format(time.RFC1123Z)
	m := twilioMessage{
		AccountSID: t.sid, APIVersion: "2010-04-01", Body: text, DateCreated: date, DateUpdated: date,
		Direction: "outbound-api", NumMedia: "0", NumSegments: strconv.Itoa(segments(text)),
		PriceUnit: "USD", SID: msid, Status: "queued", To: to, URI: uri + ".json",
		SubresourceURIs: map[string]string{"media": uri + "/Media.json"},
	}
	if from != "" {
		m.From = &from
	}
	// A message sent through a Messaging Service is "accepted" until the service picks a sender.
	if service != "" {
		m.MessagingServiceSID = &service
		if from == "" {
			m.Status = "accepted"
		}
	}
	body, _ := json.Marshal(&m)
	return body
}
