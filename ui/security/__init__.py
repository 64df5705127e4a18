"""Who may use Frontdesk and when it locks: sign-in, people, automatic lock, clipboard."""
