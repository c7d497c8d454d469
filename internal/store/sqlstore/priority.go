package sqlstore

// PriorityDB is a DB that also has a small pool of its own for the work that must never wait
// behind tenants' queries: token checks (a refused token must be refused at once, whatever
// the load) and readiness (a replica whose pool is busy is not unready). A backend whose DB
// implements it gets these on the reserved pool.
type PriorityDB interface {
	DB
	// Priority returns the reserved pool, as a DB.
	Priority() DB
}

// prio returns the reserved pool, or the DB itself when the backend has none.
func (s *Store) prio() DB {
	if p, ok := s.db.(PriorityDB); ok {
		return p.Priority()
	}
	return s.db
}
