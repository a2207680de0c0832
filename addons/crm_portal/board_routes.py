# HTTP side of the boards and the CRM home: static pages under
# /<database>/crm/ that call trytond's JSON-RPC with the sao session
# cookie (see board.py).  They hold no data: everything comes from the
# RPC methods, as the user.
from pathlib import Path

from trytond.protocols.wrappers import Response
from trytond.wsgi import app

from trytond.modules.crm_portal.public import html_not_found, public_route

__all__ = ['board_page', 'home_page', 'board_static']

STATIC = Path(__file__).resolve().parent / 'static' / 'board'
# The files the pages may load: nothing else of the folder is served.
FILES = {
    'board.js': 'text/javascript; charset=utf-8',
    'home.js': 'text/javascript; charset=utf-8',
    'common.js': 'text/javascript; charset=utf-8',
    'board.css': 'text/css; charset=utf-8',
    }
HEADERS = {
    # The pages run only their own scripts, talk only to this server and
    # cannot be framed by another site.
    'Content-Security-Policy': (
        "default-src 'none'; script-src 'self'; style-src 'self'; "
        "img-src 'self' data:; connect-src 'self'; "
        "frame-ancestors 'self'; base-uri 'none'; form-action 'none'"),
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'no-referrer',
    'Cache-Control': 'no-cache',
    }


def _file(name, content_type):
    response = Response(
        (STATIC / name).read_bytes(), 200, content_type=content_type)
    response.headers.update(HEADERS)
    return response


@app.route('/<database_name>/crm/board', methods=['GET'])
@public_route('crm.board', not_found_response=html_not_found)
def board_page(request, pool):
    return _file('board.html', 'text/html; charset=utf-8')


@app.route('/<database_name>/crm/home', methods=['GET'])
@public_route('crm.board', not_found_response=html_not_found)
def home_page(request, pool):
    return _file('home.html', 'text/html; charset=utf-8')


@app.route('/<database_name>/crm/static/<name>', methods=['GET'])
@public_route('crm.board', not_found_response=html_not_found)
def board_static(request, pool, name):
    if name not in FILES:
        return html_not_found()
    return _file(name, FILES[name])
