plugins { id("org.springframework.boot") version "3.3.0" }
