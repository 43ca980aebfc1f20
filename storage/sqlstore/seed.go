package sqlstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"satupintu/storage"
)

// Seeding fills a test database with many realistic rows at once, for the
// benchmarks and capacity measurements (`satupintu seed`). Seeded rows are
// recognisable by their ids ("seed-u…", "seed-o…", "seed-r…"), so a second
// run adds after the first and a database with real users is refused.

// membersPerOrganization is how many seeded users share one organization;
// the first of each is its administrator.
const membersPerOrganization = 4

// ErrRealUsers reports a database with users that seeding did not create.
var ErrRealUsers = errors.New("the database has users that were not seeded")

// BulkLoader writes many rows to one table quickly: COPY on Postgres,
// batched prepared INSERTs in transactions on SQLite. row(i) returns the
// values of row i (0 ≤ i < n) in columns order, as the store writes them;
// its error stops the load.
type BulkLoader interface {
	BulkLoad(ctx context.Context, table string, columns []string, n int, row func(i int) ([]any, error)) error
}

// SeedConfig says how many rows to add.
type SeedConfig struct {
	Users, Registrations int
	// PasswordHash is every seeded user's: hashed once by the caller, since
	// argon2id per user would take hours for a million.
	PasswordHash string
	// Force seeds a database that has real users too.
	Force bool
	// Now anchors the creation and submission times; zero: time.Now.
	Now time.Time
}

// SeedResult counts what a seed added, and the seeded users' numbers
// (SeedUsername(i) for FirstUser ≤ i < FirstUser+Users).
type SeedResult struct {
	Users, Organizations, Memberships, Registrations int
	FirstUser, FirstRegistration                     int
}

// SeedCounts returns how many users and registrations earlier seeds added.
func (s *Store) SeedCounts(ctx context.Context) (users, registrations int, err error) {
	var u, r int64
	err = s.db.QueryRow(ctx, `SELECT (SELECT COUNT(*) FROM users WHERE id LIKE 'seed-%'),
		(SELECT COUNT(*) FROM registrations WHERE id LIKE 'seed-%')`).Scan(&u, &r)
	return int(u), int(r), s.wrap("count seeded rows", err)
}

// SeedWith adds cfg.Users users (with their organizations and memberships) and
// cfg.Registrations registrations through l, numbered after those of
// earlier seeds. Each table is loaded in one go after the other; a failed
// seed may leave some, so start again from an empty database.
func (s *Store) SeedWith(ctx context.Context, l BulkLoader, cfg SeedConfig) (SeedResult, error) {
	if cfg.Now.IsZero() {
		cfg.Now = time.Now()
	}
	if !cfg.Force {
		var real int64
		err := s.db.QueryRow(ctx, `SELECT COUNT(*) FROM (SELECT 1 FROM users WHERE id NOT LIKE 'seed-%' LIMIT 1) AS r`).Scan(&real)
		if err != nil {
			return SeedResult{}, s.wrap("seed", err)
		}
		if real > 0 {
			return SeedResult{}, ErrRealUsers
		}
	}
	users, regs, err := s.SeedCounts(ctx)
	if err != nil {
		return SeedResult{}, err
	}
	res := SeedResult{Users: cfg.Users, Registrations: cfg.Registrations, FirstUser: users, FirstRegistration: regs}
	// Organization k has users k*4 … k*4+3; a top-up may add members to
	// the last organization of the previous seed.
	firstOrg := (users + membersPerOrganization - 1) / membersPerOrganization
	endOrg := (users + cfg.Users + membersPerOrganization - 1) / membersPerOrganization
	res.Organizations, res.Memberships = endOrg-firstOrg, cfg.Users
	created := cfg.Now.Add(-365 * 24 * time.Hour)

	orgCols := columnNames(organizationColumns)
	if err := l.BulkLoad(ctx, "organizations", orgCols, res.Organizations, func(i int) ([]any, error) {
		o := seedOrganization(firstOrg+i, created)
		address, err := json.Marshal(o.Address)
		return []any{o.ID, o.NIB, o.NPWP, o.Name, o.TraderType, o.BusinessType,
			string(address), micros(o.CreatedAt), micros(o.UpdatedAt)}, err
	}); err != nil {
		return SeedResult{}, fmt.Errorf("seed organizations: %w", err)
	}
	userCols := append(columnNames(userColumns), "name_key")
	if err := l.BulkLoad(ctx, "users", userCols, cfg.Users, func(i int) ([]any, error) {
		return userArgs(SeedUser(users+i, cfg.PasswordHash, created)), nil
	}); err != nil {
		return SeedResult{}, fmt.Errorf("seed users: %w", err)
	}
	if err := l.BulkLoad(ctx, "memberships", []string{"organization_id", "user_id", "role", "created_at"}, cfg.Users, func(i int) ([]any, error) {
		n := users + i
		role := storage.MemberStaff
		if n%membersPerOrganization == 0 {
			role = storage.MemberAdmin
		}
		return []any{seedOrganizationID(n / membersPerOrganization), seedUserID(n), role, micros(created)}, nil
	}); err != nil {
		return SeedResult{}, fmt.Errorf("seed memberships: %w", err)
	}
	regCols := columnNames(registrationColumns)
	if err := l.BulkLoad(ctx, "registrations", regCols, cfg.Registrations, func(i int) ([]any, error) {
		return registrationArgs(SeedRegistration(regs+i, users+cfg.Users, cfg.Now))
	}); err != nil {
		return SeedResult{}, fmt.Errorf("seed registrations: %w", err)
	}
	return res, nil
}

func columnNames(cols string) []string {
	var out []string
	for _, c := range strings.Split(cols, ",") {
		out = append(out, strings.TrimSpace(c))
	}
	return out
}

// Indonesian given names and family names, combined into 40 × 40 names:
// a name prefix matches many users, as it does in a real directory.
var (
	seedGiven = []string{"Budi", "Siti", "Agus", "Dewi", "Andi", "Rina", "Joko", "Sri", "Eko", "Wati",
		"Bambang", "Ayu", "Hendra", "Putri", "Rudi", "Lestari", "Dedi", "Yuni", "Ahmad", "Nur",
		"Slamet", "Indah", "Teguh", "Fitri", "Wahyu", "Ratna", "Iwan", "Maya", "Arief", "Kartika",
		"Yusuf", "Dian", "Fajar", "Intan", "Rizky", "Novi", "Bayu", "Sari", "Irfan", "Mega"}
	seedFamily = []string{"Santoso", "Wijaya", "Saputra", "Hidayat", "Kusuma", "Pratama", "Siregar", "Nasution", "Harahap", "Simanjuntak",
		"Setiawan", "Gunawan", "Purnomo", "Sutanto", "Halim", "Tanjung", "Lubis", "Sihombing", "Wibowo", "Susanto",
		"Rahayu", "Hakim", "Maulana", "Permana", "Nugroho", "Suryadi", "Utomo", "Hartono", "Salim", "Pohan",
		"Sinaga", "Manurung", "Panjaitan", "Daulay", "Ginting", "Tarigan", "Sembiring", "Ramadhan", "Firmansyah", "Syahputra"}
	seedCities    = []string{"Jakarta Utara", "Surabaya", "Medan", "Semarang", "Makassar", "Batam", "Bandung", "Palembang", "Balikpapan", "Denpasar"}
	seedWords     = []string{"Sinar", "Jaya", "Abadi", "Makmur", "Sentosa", "Samudra", "Nusantara", "Mandiri", "Sejahtera", "Bahari"}
	seedTraders   = []string{"importir", "eksportir", "importir_eksportir", "ppjk", "pengangkut", "pengusaha_tps", "kawasan_berikat", "lainnya"}
	seedBusiness  = []string{"pt", "cv", "pt", "koperasi", "pt", "firma", "perorangan", "pt"}
	seedDomains   = []string{"gmail.com", "yahoo.co.id", "contoh.co.id", "perusahaan.id"}
	seedStatusMix = []storage.RegistrationStatus{ // 20 slots: most decided, every open state present
		storage.StatusApproved, storage.StatusApproved, storage.StatusApproved, storage.StatusApproved,
		storage.StatusApproved, storage.StatusApproved, storage.StatusApproved, storage.StatusApproved,
		storage.StatusApproved, storage.StatusApproved, storage.StatusRejected, storage.StatusRejected,
		storage.StatusSubmitted, storage.StatusSubmitted, storage.StatusInReview, storage.StatusInReview,
		storage.StatusRevisionRequested, storage.StatusResubmitted, storage.StatusSubmitted, storage.StatusInReview}
)

func seedUserID(n int) string         { return fmt.Sprintf("seed-u%09d", n) }
func seedOrganizationID(k int) string { return fmt.Sprintf("seed-o%09d", k) }

// SeedName is seeded user n's name; the mixing spreads neighbours over
// the name list, so consecutive users do not share a name prefix.
func SeedName(n int) string {
	return seedGiven[(n*7)%len(seedGiven)] + " " + seedFamily[(n/len(seedGiven)*13+n)%len(seedFamily)]
}

// SeedUsername and SeedEmail are seeded user n's sign-in names.
func SeedUsername(n int) string {
	return strings.ToLower(strings.ReplaceAll(SeedName(n), " ", ".")) + fmt.Sprintf(".%d", n)
}

func SeedEmail(n int) string {
	return SeedUsername(n) + "@" + seedDomains[n%len(seedDomains)]
}

// SeedNIB and SeedNPWP are the identifiers of seeded organization k:
// 13 and 15 digits, unique.
func SeedNIB(k int) string  { return fmt.Sprintf("91%011d", k) }
func SeedNPWP(k int) string { return fmt.Sprintf("01%013d", k) }

// SeedUser is seeded user n, member of organization n/4.
func SeedUser(n int, passwordHash string, created time.Time) storage.User {
	return storage.User{ID: seedUserID(n), Username: SeedUsername(n), Email: SeedEmail(n), EmailVerified: true,
		Name: SeedName(n), Phone: fmt.Sprintf("+628%010d", n), Position: "Direktur", PasswordHash: passwordHash,
		OrganizationID: seedOrganizationID(n / membersPerOrganization),
		CreatedAt:      created, UpdatedAt: created, PasswordChangedAt: created}
}

func seedOrganization(k int, created time.Time) storage.Organization {
	w := seedWords
	return storage.Organization{ID: seedOrganizationID(k), NIB: SeedNIB(k), NPWP: SeedNPWP(k),
		Name:       strings.ToUpper(seedBusiness[k%len(seedBusiness)]) + " " + w[k%len(w)] + " " + w[(k/len(w))%len(w)] + " " + seedFamily[k%len(seedFamily)],
		TraderType: seedTraders[k%len(seedTraders)], BusinessType: seedBusiness[k%len(seedBusiness)],
		Address: storage.Address{City: seedCities[k%len(seedCities)], Country: "ID"}, CreatedAt: created, UpdatedAt: created}
}

// SeedRegistration is seeded registration j, submitted j minutes before
// now, with a status from a mix where decided ones pile up and every open
// state occurs. An approved one names one of the seeded users.
func SeedRegistration(j, users int, now time.Time) storage.Registration {
	status := seedStatusMix[j%len(seedStatusMix)]
	at := now.Add(-time.Duration(j) * time.Minute)
	g := storage.Registration{ID: fmt.Sprintf("seed-r%09d", j), ServiceNumber: fmt.Sprintf("SP-SEED-%09d", j), Status: status,
		Purpose: "transaksi", TraderType: seedTraders[(j/3)%len(seedTraders)], NIBType: "oss", NIB: fmt.Sprintf("92%011d", j),
		NPWPType: "15", NPWP: fmt.Sprintf("02%013d", j), OrgName: "PT " + seedWords[j%len(seedWords)] + " " + seedFamily[(j/7)%len(seedFamily)],
		BusinessType: "pt", Address: storage.Address{City: seedCities[j%len(seedCities)], Country: "ID"},
		FullName: SeedName(j + 1), Position: "Direktur", IdentityType: "nik", IdentityNumber: fmt.Sprintf("31%014d", j),
		Email: fmt.Sprintf("pendaftar%d@%s", j, seedDomains[j%len(seedDomains)]), Phone: fmt.Sprintf("+6281%09d", j),
		SubmittedAt: at, UpdatedAt: at}
	if status == storage.StatusApproved && users > 0 {
		n := j % users
		g.UserID, g.OrganizationID = seedUserID(n), seedOrganizationID(n/membersPerOrganization)
	}
	return g
}
