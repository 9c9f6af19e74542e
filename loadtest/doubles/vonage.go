package main

// The second SMS fake: the Vonage (formerly Nexmo) SMS API, POST /sms/json with a form (or JSON)
// body carrying api_key, api_secret, from, to and text. Vonage answers HTTP 200 with a messages[]
// array even when it refuses a message: each message's "status" is "0" when accepted and another
// code (as a string) with an "error-text" otherwise. Its edge answers 429 and 5xx itself, which is
// what the fault controls produce.

import (
	"encoding/json"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"
)

const vonagePath = "/sms/json"

type vonageDouble struct {
	key, secret string
}

type vonageMessage struct {
	To               string `json:"to,omitempty"`
	MessageID        string `json:"message-id,omitempty"`
	Status           string `json:"status"`
	ErrorText        string `json:"error-text,omitempty"`
	ClientRef        string `json:"client-ref,omitempty"`
	RemainingBalance string `json:"remaining-balance,omitempty"`
	MessagePrice     string `json:"message-price,omitempty"`
	Network          string `json:"network,omitempty"`
}

func vonageAnswer(o outcome, messages ...vonageMessage) reply {
	body, _ := json.Marshal(struct {
		MessageCount string          `json:"message-count"`
		Messages     []vonageMessage `json:"messages"`
	}{strconv.Itoa(len(messages)), messages})
	return jsonReply(o, http.StatusOK, body)
}

// vonageRefusal is a refused message: HTTP 200, status `code`.
func vonageRefusal(o outcome, code int, text string) reply {
	return vonageAnswer(o, vonageMessage{Status: strconv.Itoa(code), ErrorText: text})
}

func (v *vonageDouble) failure(kind string, b *behaviour) reply {
	body := []byte(`{"type":"https://developer.vonage.com/api-errors","title":"Service Unavailable"}`)
	switch kind {
	case kind429:
		return jsonReply(outTransient, 429, []byte(`{"type":"https://developer.vonage.com/api-errors#throttled","title":"Too Many Requests"}`),
			[2]string{"Retry-After", strconv.Itoa(b.RetryAfterS)})
	case kind500:
		return jsonReply(outTransient, 500, []byte(`{"type":"https://developer.vonage.com/api-errors","title":"Internal Server Error"}`))
	}
	return jsonReply(outTransient, 503, body, [2]string{"Retry-After", strconv.Itoa(b.RetryAfterS)})
}

// params reads the request's parameters from a form or JSON body, as Vonage does.
func vonageParams(r *http.Request, body []byte) (url.Values, bool) {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch mt {
	case "application/x-www-form-urlencoded":
		form, err := url.ParseQuery(string(body))
		return form, err == nil
	case "application/json":
		var m map[string]string
		if err := json.Unmarshal(body, &m); err != nil {
			return nil, false
		}
		form := url.Values{}
		for k, val := range m {
			form.Set(k, val)
		}
		return form, true
	}
	return url.Values{}, true
}

// isVonageNumber reports whether s is an international number as Vonage takes it: digits only, no
// '+', 8 to 15 of them, not starting with 0.
func isVonageNumber(s string) bool {
	if len(s) < 8 || len(s) > 15 || s[0] == '0' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func (v *vonageDouble) serve(x *exchange) reply {
	r := x.r
	if r.URL.Path != vonagePath {
		return jsonReply(outPermanent, 404, []byte(`{"title":"Not Found"}`))
	}
	if r.Method != http.MethodPost {
		return jsonReply(outPermanent, 405, []byte(`{"title":"Method Not Allowed"}`), [2]string{"Allow", "POST"})
	}
	if rep, down := x.down(); down {
		return rep
	}
	form, ok := vonageParams(r, x.body)
	if !ok {
		return vonageRefusal(outPermanent, 3, "Invalid request body")
	}
	key, secret := form.Get("api_key"), form.Get("api_secret")
	if user, pass, basic := r.BasicAuth(); basic && key == "" {
		key, secret = user, pass
	}
	to, from, text := form.Get("to"), form.Get("from"), form.Get("text")
	switch {
	case key == "" || secret == "":
		return vonageRefusal(outRejected, 2, "Missing api_key or api_secret")
	case !secretEqual(key, v.key) || !secretEqual(secret, v.secret):
		return vonageRefusal(outRejected, 4, "Bad Credentials")
	case to == "":
		return vonageRefusal(outPermanent, 2, "Missing to param")
	case from == "":
		return vonageRefusal(outPermanent, 2, "Missing from param")
	case text == "":
		return vonageRefusal(outPermanent, 2, "Missing text param")
	case utf8.RuneCountInString(text) > 3200:
		return vonageRefusal(outPermanent, 12, "Message too long")
	case !isVonageNumber(strings.TrimPrefix(to, "+")):
		return vonageRefusal(outPermanent, 3, "Invalid to param")
	}
	id := r.Header.Get(notificationIDHeader)
	if id == "" {
		id = form.Get("client-ref")
	}
	if id == "" {
		id = bodyID(x.body)
	}
	if rep, failed := x.inject(id); failed {
		return rep
	}
	x.accept(id, http.StatusOK)
	return vonageAnswer(outAccepted, vonageMessage{
		To: strings.TrimPrefix(to, "+"), MessageID: strings.ToUpper(randomHex(16)), Status: "0",
		ClientRef: form.Get("client-ref"), RemainingBalance: "10.00000000", MessagePrice: "0.03330000",
		Network: "23410",
	})
}
