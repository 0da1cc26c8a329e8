"""Routes by area: pages for everyone (sign-in, account, locale), students, teachers, admins; the API."""
