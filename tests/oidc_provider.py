"""A small OpenID Connect provider for the login tests: real HTTP on 127.0.0.1, RS256-signed
ID tokens, a JWKS, and PKCE checked at the token endpoint.

``/authorize`` approves one fixed user at once (no login form): the tests are about ModelDeck's
side of the flow. ``provider.sabotage`` makes it misbehave in one chosen way, so the tests can
show ModelDeck refuses it: "signature" (a token signed by another key under the same key id),
"payload" (a signed token whose claims were changed afterwards), "nonce" (a nonce other than
the one asked for), "audience", "issuer", "expired".
"""
from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from urllib.parse import urlencode

from flask import Flask, jsonify, redirect, request
from joserfc import jwt
from joserfc.jwk import RSAKey
from werkzeug.serving import make_server

CLIENT_ID = "modeldeck-test"
CLIENT_SECRET = "test-client-secret-0123456789"


class OIDCProvider:
    def __init__(self):
        self.key = RSAKey.generate_key(2048, parameters={"kid": "k1", "use": "sig",
                                                         "alg": "RS256"})
        self.other_key = RSAKey.generate_key(2048, parameters={"kid": "k1", "alg": "RS256"})
        self.claims = {"sub": "u-123", "email": "ada@example.com", "email_verified": True,
                       "name": "Ada", "groups": ["analytics"]}
        self.sabotage: str | None = None
        self.codes: dict[str, dict] = {}
        self.authorize_requests: list[dict] = []
        self.token_requests: list[dict] = []
        self._server = None
        self._thread = None
        self.issuer = ""

    # ---------------------------------------------------------------- lifecycle
    def start(self) -> "OIDCProvider":
        self._server = make_server("127.0.0.1", 0, self._app(), threaded=True)
        self.issuer = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._thread.join(5)
            self._server.server_close()

    # ---------------------------------------------------------------- the provider
    def _app(self) -> Flask:
        app = Flask("test-oidc-provider")

        @app.get("/.well-known/openid-configuration")
        def discovery():
            return jsonify({
                "issuer": self.issuer,
                "authorization_endpoint": self.issuer + "/authorize",
                "token_endpoint": self.issuer + "/token",
                "jwks_uri": self.issuer + "/jwks",
                "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "code_challenge_methods_supported": ["S256"],
                "token_endpoint_auth_methods_supported": ["client_secret_basic"],
            })

        @app.get("/jwks")
        def jwks():
            return jsonify({"keys": [self.key.as_dict(private=False)]})

        @app.get("/authorize")
        def authorize():
            args = request.args.to_dict()
            self.authorize_requests.append(args)
            if args.get("client_id") != CLIENT_ID or args.get("response_type") != "code":
                return "unknown client or response type", 400
            if args.get("code_challenge_method") != "S256" or not args.get("code_challenge"):
                return "PKCE (S256) required", 400
            code = secrets.token_urlsafe(16)
            self.codes[code] = {"nonce": args.get("nonce"), "challenge": args["code_challenge"],
                                "redirect_uri": args["redirect_uri"]}
            return redirect(args["redirect_uri"] + "?" + urlencode(
                {"code": code, "state": args.get("state", "")}))

        @app.post("/token")
        def token():
            form = request.form.to_dict()
            self.token_requests.append(form)
            auth = request.authorization
            if not auth or (auth.username, auth.password) != (CLIENT_ID, CLIENT_SECRET):
                return jsonify({"error": "invalid_client"}), 401
            grant = self.codes.pop(form.get("code", ""), None)
            if grant is None or form.get("redirect_uri") != grant["redirect_uri"]:
                return jsonify({"error": "invalid_grant"}), 400
            verifier = form.get("code_verifier", "")
            digest = base64.urlsafe_b64encode(
                hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
            if digest != grant["challenge"]:
                return jsonify({"error": "invalid_grant", "error_description": "PKCE"}), 400
            return jsonify({"access_token": secrets.token_urlsafe(24), "token_type": "Bearer",
                            "expires_in": 300, "id_token": self.id_token(grant["nonce"])})

        return app

    def id_token(self, nonce: str | None) -> str:
        now = int(time.time())
        claims = {"iss": self.issuer, "aud": CLIENT_ID, "iat": now, "exp": now + 300,
                  "nonce": nonce, **self.claims}
        key = self.key
        if self.sabotage == "signature":
            key = self.other_key
        elif self.sabotage == "nonce":
            claims["nonce"] = "not-the-nonce-that-was-asked-for"
        elif self.sabotage == "audience":
            claims["aud"] = "some-other-app"
        elif self.sabotage == "issuer":
            claims["iss"] = "http://127.0.0.1:1"
        elif self.sabotage == "expired":
            claims["iat"], claims["exp"] = now - 7200, now - 3600
        token = jwt.encode({"alg": "RS256", "kid": "k1"}, claims, key)
        if self.sabotage == "payload":  # the signature no longer matches the claims
            header, _, signature = token.split(".")
            forged = base64.urlsafe_b64encode(json.dumps(
                {**claims, "email": "mallory@example.com"}).encode()).rstrip(b"=").decode()
            token = ".".join((header, forged, signature))
        return token
