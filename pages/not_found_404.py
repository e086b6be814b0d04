"""Any unknown address."""
import dash

from components.messages import not_found

dash.register_page(__name__, path="/404", title="Not found · ModelDeck")


def layout(**_):
    return not_found("This page does not exist.")
