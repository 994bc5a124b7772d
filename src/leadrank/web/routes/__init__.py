"""Page routes, one module per area of the app. Every router checks CSRF on unsafe methods."""
