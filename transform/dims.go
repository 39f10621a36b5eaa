package transform

import (
	"encoding/json"

	"github.com/convsync/convsync/extract"
)

// dims collects the expanded objects of a batch, one per id, in first-seen
// order. A full object replaces an earlier one; the redacted deleted form
// only fills an id not seen in full, so it never hides attributes. Rows are
// made at the end, once per id: an owner is expanded in each of its
// conversations.
type dims struct {
	contacts  keyed[extract.Contact]
	users     keyed[extract.User]
	bots      keyed[extract.Bot]
	websites  keyed[extract.Website]
	audiences keyed[extract.Audience]
}

func (d *dims) add(c *extract.Conversation) {
	d.contacts.add(c.Contact)
	d.users.add(c.Owner)
	d.bots.add(c.Bot)
	d.websites.add(c.Website)
	d.audiences.add(c.Audience)
}

func (d *dims) fill(b *Batch, p *ptrs) {
	b.Contacts = rows(&d.contacts, p, contactRow)
	b.Users = rows(&d.users, p, userRow)
	b.Bots = rows(&d.bots, p, func(id string, o *extract.Bot, p *ptrs) Bot { return Bot{ID: id, Name: p.str(o.Name)} })
	b.Websites = rows(&d.websites, p, func(id string, o *extract.Website, p *ptrs) Website {
		return Website{ID: id, Name: p.str(o.Name), URL: p.str(o.URL)}
	})
	b.Audiences = rows(&d.audiences, p, func(id string, o *extract.Audience, p *ptrs) Audience {
		return Audience{ID: id, Name: p.str(o.Name)}
	})
}

// keyed holds the object of each id: the last full one, or nil when only
// the deleted form was seen.
type keyed[T extract.Object] struct {
	ids  []string
	objs []*T
	at   map[string]int
}

// add adds an expandable field that was expanded, in full or in its deleted
// form. An id-only reference adds nothing: there is nothing to know about
// the object beyond its id.
func (k *keyed[T]) add(ref extract.Ref[T]) {
	if ref.ID == "" || (ref.Obj == nil && !ref.Deleted) {
		return
	}
	if k.at == nil {
		k.at = map[string]int{}
	}
	i, seen := k.at[ref.ID]
	switch {
	case !seen:
		k.at[ref.ID] = len(k.ids)
		k.ids = append(k.ids, ref.ID)
		k.objs = append(k.objs, ref.Obj)
	case ref.Obj != nil:
		k.objs[i] = ref.Obj
	}
}

// rows makes the row of each id of k, with row for a full object.
func rows[T extract.Object, R any](k *keyed[T], p *ptrs, row func(string, *T, *ptrs) R) []R {
	if len(k.ids) == 0 {
		return nil
	}
	out := make([]R, len(k.ids))
	for i, id := range k.ids {
		if k.objs[i] == nil {
			out[i] = deletedRow[R](id)
		} else {
			out[i] = row(id, k.objs[i], p)
		}
	}
	return out
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

func contactRow(id string, c *extract.Contact, p *ptrs) Contact {
	return Contact{
		ID:                 id,
		CreationTime:       p.time(c.CreationTime),
		LastUpdatedTime:    p.time(c.LastUpdatedTime),
		LastInteractedTime: p.time(c.LastInteractedTime),
		OwnerID:            p.str(c.Owner),
		Status:             p.str(c.Status),
		FirstName:          p.str(c.FirstName),
		LastName:           p.str(c.LastName),
		Email:              p.str(c.Email),
		Phone:              p.str(c.Phone),
		MobilePhone:        p.str(c.MobilePhone),
		Salutation:         p.str(c.Salutation),
		JobTitle:           p.str(c.JobTitle),
		Company:            p.str(c.Company),
		CompanySize:        p.str(c.CompanySize),
		Employees:          c.Employees,
		StreetAddress:      p.str(c.StreetAddress),
		City:               p.str(c.City),
		State:              p.str(c.State),
		PostCode:           p.str(c.PostCode),
		Country:            p.str(c.Country),
		Timezone:           p.str(c.Timezone),
		HasConsent:         c.HasConsent,
		TermsOfService:     c.TermsOfService,
		BotID:              p.str(c.Bot),
		Form:               p.str(c.Form),
		CustomFields:       p.json(c.CustomFields),
	}
}

func userRow(id string, u *extract.User, p *ptrs) User {
	var teams *string
	if u.Teams != nil {
		b, _ := json.Marshal(u.Teams) // a []string always marshals
		teams = p.strs.ptr(string(b))
	}
	return User{
		ID:        id,
		FirstName: p.str(u.FirstName),
		LastName:  p.str(u.LastName),
		Email:     p.str(u.Email),
		Status:    p.str(u.Status),
		RoleName:  p.str(u.RoleName),
		Timezone:  p.str(u.Timezone),
		Teams:     teams,
	}
}
