"""A small hand-labelled set of lead profiles: (anchor, similar, dissimilar) triplets.

Written for leadrank: the similar profile is one a sales team would call with the same
pitch (same role family and market, different words); the dissimilar one is a different
buyer. About a third of the negatives are "near misses" (same industry, different role;
same role, different market) so the set is not trivially easy.
"""

from __future__ import annotations

TRIPLETS: list[tuple[str, str, str]] = [
    # --- sales leaders in software
    ("VP Sales at a B2B SaaS company", "Head of Sales, cloud software company", "Nurse at a hospital"),
    ("Chief Revenue Officer, SaaS startup, 80 employees", "VP of Sales at a software-as-a-service scale-up", "Warehouse worker at a logistics company"),
    ("Sales Director EMEA, enterprise software vendor", "Regional Sales Manager Europe, business software company", "Primary school teacher"),
    ("Head of Business Development, fintech platform", "Director of Partnerships at a payments technology startup", "Line cook at a restaurant"),
    ("Account Executive, cybersecurity software", "Enterprise sales representative at a security software company", "Dental hygienist at a dental clinic"),
    # --- marketing
    ("Head of Marketing at an e-commerce brand", "Director of Digital Marketing, online retail company", "Civil engineer at a construction firm"),
    ("CMO, consumer goods company", "Chief Marketing Officer at a food and beverage manufacturer", "Software developer at a video game studio"),
    ("Growth Marketing Manager, mobile app startup", "Performance marketing lead at a consumer app company", "Truck driver at a freight carrier"),
    ("Content marketing manager, B2B software", "Marketing manager responsible for blog and SEO at a SaaS company", "Pharmacist at a community pharmacy"),
    # --- engineering / IT
    ("CTO of a software startup", "Chief Technology Officer, technology company", "Head chef at a hotel"),
    ("IT Director at a manufacturing company", "Head of IT infrastructure, industrial manufacturer", "Fashion designer at a clothing label"),
    ("Senior Software Engineer, backend, cloud platform", "Backend developer building cloud services", "Real estate agent"),
    ("Data Scientist at a bank", "Machine learning engineer in financial services", "Farm manager on a dairy farm"),
    ("DevOps engineer, Kubernetes, SaaS", "Site reliability engineer at a cloud software company", "Kindergarten teacher"),
    # --- finance
    ("CFO of a mid-size manufacturing company", "Finance Director, industrial goods manufacturer", "Social media influencer"),
    ("Controller at a retail chain", "Financial controller, retail stores group", "Surgeon at a university hospital"),
    ("Head of Procurement, automotive supplier", "Purchasing Director at a car parts manufacturer", "Yoga instructor"),
    # --- healthcare
    ("Nurse at a hospital", "Registered nurse in a clinic", "VP Sales at a B2B SaaS company"),
    ("Hospital administrator, healthcare network", "Director of operations at a regional hospital group", "Frontend developer at a design agency"),
    ("Physician, cardiology, university hospital", "Cardiologist at a medical center", "Marketing intern at an advertising agency"),
    ("Pharmacy owner", "Independent pharmacist running a drugstore", "Head of Sales at a cloud software company"),
    # --- education
    ("Principal of a secondary school", "Head teacher at a high school", "Procurement manager at an oil company"),
    ("University professor of economics", "Associate professor, economics department", "Sales representative at a car dealership"),
    ("Student studying computer science", "Computer science undergraduate", "Chief Financial Officer of a bank"),
    # --- logistics / manufacturing / operations
    ("Logistics manager, freight forwarding company", "Supply chain manager at a shipping and transport company", "Psychotherapist in private practice"),
    ("Plant manager, automotive factory", "Production director at a car manufacturing plant", "Content writer for a travel blog"),
    ("Operations director, e-commerce fulfilment", "Head of warehouse operations for an online retailer", "Dermatologist"),
    # --- legal / HR
    ("General Counsel, technology company", "Head of Legal at a software firm", "Bakery owner"),
    ("HR Director, 2000 employees, retail", "Chief People Officer at a large retail chain", "Data engineer at a fintech"),
    ("Recruiter at a staffing agency", "Talent acquisition specialist, recruitment firm", "Airline pilot"),
    # --- hospitality / real estate / construction
    ("Hotel general manager", "Manager of a boutique hotel", "Backend engineer at a SaaS company"),
    ("Real estate broker", "Property agent selling residential homes", "Chief Information Security Officer"),
    ("Construction project manager", "Site manager on building construction projects", "Social media manager at a fashion brand"),
    # --- near misses: same industry, different role / same role, different market
    ("VP Sales at a B2B SaaS company", "Head of Sales, cloud software company", "Customer support agent at a SaaS company"),
    ("CFO of a mid-size manufacturing company", "Finance Director, industrial goods manufacturer", "Forklift operator at a manufacturing plant"),
    ("Head of Marketing at an e-commerce brand", "Director of Digital Marketing, online retail company", "Head of Marketing at a hospital"),
    ("Nurse at a hospital", "Registered nurse in a clinic", "Hospital IT administrator"),
    ("CTO of a software startup", "Chief Technology Officer, technology company", "CTO of a dairy cooperative"),
    ("Data Scientist at a bank", "Machine learning engineer in financial services", "Bank teller at a branch"),
    ("Logistics manager, freight forwarding company", "Supply chain manager at a shipping and transport company", "Sales manager at a freight forwarding company"),
    ("Principal of a secondary school", "Head teacher at a high school", "Student at a secondary school"),
    ("IT Director at a manufacturing company", "Head of IT infrastructure, industrial manufacturer", "Sales director at a manufacturing company"),
]
