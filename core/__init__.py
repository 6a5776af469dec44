"""Shared infrastructure below all feature packages: app factory, config, database, staff users and
roles, authorization, audit trail, security headers, error pages."""
