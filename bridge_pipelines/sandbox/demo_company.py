"""The demo company: one consistent set of vendors, GL accounts and cost centers.

The Stampli simulator writes invoices against it and the ERP sandboxes are seeded from it, so a
demo invoice refers to vendors and accounts the ERP knows, except the few marked missing on
purpose (they show how an unknown vendor or account is reported).
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class DemoVendor:
    """A vendor as Stampli exports it (vendors CSV columns)."""

    id: str
    name: str
    tax_id: str
    email: str
    phone: str
    address_line1: str
    address_line2: str
    city: str
    region: str
    postal_code: str
    country: str
    currency: str
    payment_terms: str
    erp_vendor_code: str
    in_erp: bool = True


@dataclass(frozen=True)
class DemoGlAccount:
    """A GL account as Stampli exports it."""

    code: str
    name: str
    type: str
    active: bool = True
    in_erp: bool = True


@dataclass(frozen=True)
class DemoCompany:
    """Vendors, GL accounts and cost centers the demo's files and ERP sandboxes share."""

    name: str
    timezone: str
    vendors: tuple[DemoVendor, ...]
    gl_accounts: tuple[DemoGlAccount, ...]
    cost_centers: tuple[str, ...]

    def vendor(self, vendor_id: str) -> DemoVendor:
        """The vendor with this Stampli id."""
        for vendor in self.vendors:
            if vendor.id == vendor_id:
                return vendor
        raise KeyError(vendor_id)

    @property
    def expense_accounts(self) -> tuple[DemoGlAccount, ...]:
        """Accounts an invoice line may be coded to."""
        return tuple(a for a in self.gl_accounts if a.type == "Expense" and a.active)


def _vendor(
    number: int,
    name: str,
    city: str,
    region: str,
    postal: str,
    country: str,
    currency: str = "USD",
    *,
    terms: str = "Net 30",
    line2: str = "",
    in_erp: bool = True,
) -> DemoVendor:
    slug = "".join(c for c in name.lower() if c.isascii() and c.isalnum())[:12] or "vendor"
    return DemoVendor(
        id=f"V-{number:04d}",
        name=name,
        tax_id=f"{number:02d}-{7_000_000 + number * 137:07d}",
        email=f"ap@{slug}.example",
        phone=f"+1-555-01{number:02d}",
        address_line1=f"{100 + number * 7} Commerce Way",
        address_line2=line2,
        city=city,
        region=region,
        postal_code=postal,
        country=country,
        currency=currency,
        payment_terms=terms,
        erp_vendor_code=f"SUP{number:05d}" if in_erp else "",
        in_erp=in_erp,
    )


DEMO_COMPANY = DemoCompany(
    name="Bridge Demo Manufacturing",
    timezone="America/Chicago",
    vendors=(
        _vendor(1, "Acme Components", "Chicago", "IL", "60601", "US"),
        _vendor(2, "Müller & Söhne GmbH", "München", "BY", "80331", "DE", "EUR"),
        _vendor(3, 'Café "Le Gourmet", SARL', "Lyon", "ARA", "69002", "FR", "EUR"),
        _vendor(4, "Northwind Traders", "Seattle", "WA", "98101", "US", line2="Suite 400"),
        _vendor(5, "Škoda Parts s.r.o.", "Plzeň", "PL", "30100", "CZ", "EUR", terms="Net 45"),
        _vendor(6, "O'Brien Logistics, LLC", "Boston", "MA", "02110", "US"),
        _vendor(7, "東京精密株式会社", "Tokyo", "13", "100-0005", "JP", "USD", terms="Net 60"),
        _vendor(8, "Globex Office Supply", "Springfield", "IL", "62701", "US", terms="Net 15"),
        _vendor(9, "Initech Software", "Austin", "TX", "78701", "US"),
        _vendor(10, "Façade & Glass Co.", "Montréal", "QC", "H2Y 1C6", "CA", "USD"),
        _vendor(11, "Umbrella Facilities", "Raccoon City", "MO", "64101", "US"),
        # Missing from the ERP on purpose: the demo shows an unknown-vendor error for it.
        _vendor(12, "Hooli Cloud Services", "Palo Alto", "CA", "94301", "US", in_erp=False),
    ),
    gl_accounts=(
        DemoGlAccount("1200", "Accounts Receivable", "Asset"),
        DemoGlAccount("2000", "Accounts Payable", "Liability"),
        DemoGlAccount("4000", "Product Revenue", "Revenue"),
        DemoGlAccount("5000", "Cost of Goods Sold", "Expense"),
        DemoGlAccount("6100", "Raw Materials", "Expense"),
        DemoGlAccount("6200", "Freight In", "Expense"),
        DemoGlAccount("6300", "Office Supplies", "Expense"),
        DemoGlAccount("6400", "Software Subscriptions", "Expense"),
        DemoGlAccount("6500", "Facilities & Maintenance", "Expense"),
        DemoGlAccount("6900", "Legacy Consulting", "Expense", active=False),
        # Missing from the ERP on purpose.
        DemoGlAccount("6950", "Travel & Entertainment", "Expense", in_erp=False),
    ),
    cost_centers=("CC-EAST", "CC-WEST", "CC-HQ", "CC-RND"),
)
