package transform

import (
	"encoding/json"

	"github.com/convsync/convsync/extract"
)

// dims collects the dimension rows of a batch, one per id, in first-seen
// order. A full object replaces an earlier one; the redacted deleted form
// only fills an id not seen in full, so it never hides attributes.
type dims struct {
	contacts  keyed[Contact]
	users     keyed[User]
	bots      keyed[Bot]
	websites  keyed[Website]
	audiences keyed[Audience]
}

func (d *dims) add(c *extract.Conversation) {
	addRef(&d.contacts, c.Contact, contactRow)
	addRef(&d.users, c.Owner, userRow)
	addRef(&d.bots, c.Bot, func(id string, o *extract.Bot) Bot { return Bot{ID: id, Name: nonEmptyPtr(o.Name)} })
	addRef(&d.websites, c.Website, func(id string, o *extract.Website) Website {
		return Website{ID: id, Name: nonEmptyPtr(o.Name), URL: nonEmptyPtr(o.URL)}
	})
	addRef(&d.audiences, c.Audience, func(id string, o *extract.Audience) Audience {
		return Audience{ID: id, Name: nonEmptyPtr(o.Name)}
	})
}

func (d *dims) fill(b *Batch) {
	b.Contacts = d.contacts.rows
	b.Users = d.users.rows
	b.Bots = d.bots.rows
	b.Websites = d.websites.rows
	b.Audiences = d.audiences.rows
}

// keyed is a list of rows with at most one row per id.
type keyed[R any] struct {
	rows []R
	at   map[string]int
}

// addRef adds the row for an expandable field that was expanded, in full or
// in its deleted form. An id-only reference adds nothing: there is nothing
// to know about the object beyond its id.
func addRef[T, R any](k *keyed[R], ref extract.Ref[T], row func(string, *T) R) {
	if ref.ID == "" || (ref.Obj == nil && !ref.Deleted) {
		return
	}
	if k.at == nil {
		k.at = map[string]int{}
	}
	i, seen := k.at[ref.ID]
	switch {
	case ref.Obj != nil && seen:
		k.rows[i] = row(ref.ID, ref.Obj)
	case ref.Obj != nil:
		k.at[ref.ID] = len(k.rows)
		k.rows = append(k.rows, row(ref.ID, ref.Obj))
	case !seen:
		k.at[ref.ID] = len(k.rows)
		k.rows = append(k.rows, deletedRow[R](ref.ID))
	}
}

// deletedRow is the row of an object known only by its redacted deleted form.
func deletedRow[R any](id string) R {
	var r R
	switch p := any(&r).(type) {
	case *Contact:
		*p = Contact{ID: id, Deleted: true}
	case *User:
		*p = User{ID: id, Deleted: true}
	case *Bot:
		*p = Bot{ID: id, Deleted: true}
	case *Website:
		*p = Website{ID: id, Deleted: true}
	case *Audience:
		*p = Audience{ID: id, Deleted: true}
	}
	return r
}

func contactRow(id string, c *extract.Contact) Contact {
	return Contact{
		ID:                 id,
		CreationTime:       timePtr(c.CreationTime),
		LastUpdatedTime:    timePtr(c.LastUpdatedTime),
		LastInteractedTime: timePtr(c.LastInteractedTime),
		OwnerID:            nonEmptyPtr(c.Owner),
		Status:             nonEmptyPtr(c.Status),
		FirstName:          nonEmptyPtr(c.FirstName),
		LastName:           nonEmptyPtr(c.LastName),
		Email:              nonEmptyPtr(c.Email),
		Phone:              nonEmptyPtr(c.Phone),
		MobilePhone:        nonEmptyPtr(c.MobilePhone),
		Salutation:         nonEmptyPtr(c.Salutation),
		JobTitle:           nonEmptyPtr(c.JobTitle),
		Company:            nonEmptyPtr(c.Company),
		CompanySize:        nonEmptyPtr(c.CompanySize),
		Employees:          c.Employees,
		StreetAddress:      nonEmptyPtr(c.StreetAddress),
		City:               nonEmptyPtr(c.City),
		State:              nonEmptyPtr(c.State),
		PostCode:           nonEmptyPtr(c.PostCode),
		Country:            nonEmptyPtr(c.Country),
		Timezone:           nonEmptyPtr(c.Timezone),
		HasConsent:         c.HasConsent,
		TermsOfService:     c.TermsOfService,
		BotID:              nonEmptyPtr(c.Bot),
		Form:               nonEmptyPtr(c.Form),
		CustomFields:       jsonText(c.CustomFields),
	}
}

func userRow(id string, u *extract.User) User {
	var teams *string
	if u.Teams != nil {
		b, _ := json.Marshal(u.Teams) // a []string always marshals
		s := string(b)
		teams = &s
	}
	return User{
		ID:        id,
		FirstName: nonEmptyPtr(u.FirstName),
		LastName:  nonEmptyPtr(u.LastName),
		Email:     nonEmptyPtr(u.Email),
		Status:    nonEmptyPtr(u.Status),
		RoleName:  nonEmptyPtr(u.RoleName),
		Timezone:  nonEmptyPtr(u.Timezone),
		Teams:     teams,
	}
}
