"""Who is calling: operator access tokens, personal API tokens, the OAuth token endpoint."""
