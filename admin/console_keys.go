package admin

import (
	"net/http"
)

// keysPage is the data of "admin_keys".
type keysPage struct {
	Nav        []navItem
	Rows       []keyRow
	Algorithms []string
	Notice     string
}

type keyRow struct {
	ID, Algorithm, State, Created, Activates, Retires string
	Sealed                                            bool
}

func (c *Console) listKeys(w http.ResponseWriter, r *http.Request, op operator) error {
	keys, err := c.Service.ListKeys(r.Context())
	if err != nil {
		return err
	}
	p := keysPage{Nav: nav("/admin/keys"), Algorithms: c.Service.Algorithms, Notice: noticeOf(r)}
	for _, k := range keys {
		p.Rows = append(p.Rows, keyRow{ID: k.ID, Algorithm: k.Algorithm, State: k.State, Created: when(k.Created),
			Activates: when(k.Activates), Retires: when(k.NotAfter), Sealed: k.Sealed})
	}
	return c.render.Render(w, r, http.StatusOK, "admin_keys", p)
}

func (c *Console) rotateKey(w http.ResponseWriter, r *http.Request, op operator) error {
	if _, err := c.Service.RotateKey(r.Context(), op.Actor, r.PostForm.Get("alg")); err != nil {
		return problem(err)
	}
	return done(w, r, "/admin/keys", "rotated")
}
