"""Accounts and signing in: users and their passwords, roles and the sets of them each thing needs, sessions and
their cookies, second factors, single sign-on (OIDC) and the identities it links."""
