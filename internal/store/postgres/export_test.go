package postgres

import "github.com/jackc/pgx/v5/pgxpool"

// Pool exposes the connection pool to this package's external tests.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }
