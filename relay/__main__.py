"""`python -m relay serve [--host H] [--port P] [--database URL]`: run the relay."""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys

from relay import __version__


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m relay", description="Frontdesk sync relay")
    parser.add_argument("--version", action="version", version=__version__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="answer HTTP requests until stopped (Ctrl+C)")
    serve.add_argument("--host", default=os.environ.get("RELAY_HOST", "127.0.0.1"))
    serve.add_argument("--port", type=int, default=int(os.environ.get("RELAY_PORT", "8787")))
    serve.add_argument(
        "--database",
        help="sqlite:///path/to/relay.db (default: in this user's data folder) or "
        "postgresql://user:password@host/dbname (env RELAY_DATABASE_URL)",
    )
    serve.add_argument(
        "--forwarded-allow-ips",
        default=os.environ.get("RELAY_FORWARDED_ALLOW_IPS"),
        help="addresses of the reverse proxy whose X-Forwarded-For to trust (comma list)",
    )
    serve.add_argument("--log-level", default=os.environ.get("RELAY_LOG_LEVEL", "info"))
    args = parser.parse_args(argv)

    import uvicorn

    from relay.app import create_app
    from relay.server import RelayServer
    from relay.settings import from_environment

    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        settings = from_environment(database_url=args.database)
        app = create_app(settings)
    except ValueError as error:
        print(f"relay: {error}", file=sys.stderr)
        return 2
    where = settings.sqlite_path() or "PostgreSQL"
    logging.getLogger("relay").info(
        "relay %s on http://%s:%s, records in %s%s",
        __version__,
        args.host,
        args.port,
        where,
        "" if settings.registration_key else " (no registration key: anyone may open a space)",
    )
    config = uvicorn.Config(
        app,
        host=args.host,
        port=args.port,
        access_log=False,  # relay.access logs route patterns, never concrete paths
        log_level=args.log_level.lower(),
        proxy_headers=args.forwarded_allow_ips is not None,
        forwarded_allow_ips=args.forwarded_allow_ips,
        server_header=False,
    )
    server = RelayServer(config)  # at a stop, the pulls that wait answer first
    with contextlib.suppress(KeyboardInterrupt):  # uvicorn raises Ctrl+C again once stopped
        server.run()
    return 0 if server.started else 3  # 3: uvicorn's own "could not start" (port taken)


if __name__ == "__main__":
    sys.exit(main())
