plugins { java; id("org.springframework.boot") version "3.3.0" }
repositories { mavenCentral() }
dependencies { implementation("org.springframework.boot:spring-boot-starter-web") }
